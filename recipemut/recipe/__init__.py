"""The recipe: model, loading, schema and semantic validation, constraints, graph, diff, round-trip YAML."""
