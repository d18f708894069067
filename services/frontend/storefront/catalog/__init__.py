"""The product catalog: data, generated product images, the home grid and product pages."""
