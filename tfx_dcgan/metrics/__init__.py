"""Sample-quality metrics (FID, KID): reserved for the FID issue; nothing here yet."""
