"""SchemaGate: stops the pipeline before Transform and the Trainer when the data breaks the schema."""
