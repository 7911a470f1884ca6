"""ImportSchemaGen that also reads a schema shipped inside an installed package."""
