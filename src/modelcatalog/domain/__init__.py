"""The domain contract: names, limits and lifecycle rules that every part of the catalog keeps."""
