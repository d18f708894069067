"""Everything about ads: the client for the ads service, the banner and the image proxy."""
