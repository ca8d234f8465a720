"""PostgreSQL: table definitions, the engine, and the queries of each resource."""
