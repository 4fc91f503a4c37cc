"""Warehouse engines behind one `Engine` interface (DuckDB by default, Spark at scale)."""

from cvm.engine.base import Engine, Statement, create_table_statement, to_expression

__all__ = ["Engine", "Statement", "create_table_statement", "to_expression"]
