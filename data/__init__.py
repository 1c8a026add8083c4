"""Data layer: database, schema, importer, demo data, figures engine and queries."""
