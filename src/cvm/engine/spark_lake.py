"""The Parquet lake behind `SparkEngine`: table folders registered in Spark's catalog.

Every table is ``<lake>/<database>/<table>/`` (Parquet files) and an external ``USING parquet``
table in the engine's database. Spark's Parquet tables support ``CREATE TABLE``, ``INSERT
INTO`` and ``INSERT OVERWRITE`` but not ``CREATE OR REPLACE TABLE``, ``DELETE`` or ``UPDATE``
(those need a table format such as Delta or Iceberg). The lake runs those as Spark jobs that
rewrite the table: the new content is computed, materialised (``localCheckpoint``, so the job
no longer reads the files it is about to replace) and written with overwrite. That is a
whole-table rewrite, fine for cvm's bookkeeping tables and the daily rebuilds; the big tables
(``transactions``, ``events``) are only ever appended to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlglot.expressions as exp

from cvm.engine.base import WriteMode
from cvm.engine.spark_views import VIEWS_FOLDER, ViewBook

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

RunSql = Callable[[str, list[object] | None], None]


class Lake:
    """Table folders under one root, in one Spark database."""

    def __init__(self, spark: SparkSession, root: str, database: str) -> None:
        self.spark = spark
        self.root = root.rstrip("/")
        self.database = database
        self._temp_tables: set[str] = set()
        self.views = ViewBook(
            spark, self.location(VIEWS_FOLDER), lambda: self._folder_exists(VIEWS_FOLDER)
        )

    def location(self, name: str) -> str:
        return f"{self.root}/{self.database}/{name}"

    def qualified(self, name: str) -> str:
        return f"`{self.database}`.`{name}`"

    def open(self) -> None:
        """Create the database and re-register the table folders already in the lake."""
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        self.spark.catalog.setCurrentDatabase(self.database)
        from pyspark.errors import AnalysisException

        for name in self._table_folders():
            if not self._catalog_has(name):
                self.spark.sql(
                    f"CREATE TABLE {self.qualified(name)} USING parquet LOCATION '{self.location(name)}'"
                )
        for name, sql in self.views.definitions():
            try:
                self.spark.sql(f"CREATE OR REPLACE VIEW {self.qualified(name)} AS {sql}")
            except AnalysisException as err:  # a table it reads is gone; the next CREATE fixes it
                log.warning("view %s not restored from the lake: %s", name, err.getErrorClass())

    def _table_folders(self) -> list[str]:
        fs = self._filesystem()
        if fs is None:
            return []
        jvm, hfs, path = fs
        if not hfs.exists(path):
            return []
        return sorted(
            s.getPath().getName()
            for s in hfs.listStatus(path)
            if s.isDirectory() and not s.getPath().getName().startswith(("_", "."))
        )

    def _filesystem(self):  # type: ignore[no-untyped-def]
        """Hadoop FileSystem of the lake (classic sessions; Spark Connect has no JVM access)."""
        jvm = getattr(self.spark, "_jvm", None)
        if jvm is None:
            return None
        conf = self.spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
        path = jvm.org.apache.hadoop.fs.Path(f"{self.root}/{self.database}")
        return jvm, path.getFileSystem(conf), path

    def _folder_exists(self, name: str) -> bool | None:
        fs = self._filesystem()
        if fs is None:
            return None
        jvm, hfs, _ = fs
        return bool(hfs.exists(jvm.org.apache.hadoop.fs.Path(self.location(name))))

    def _delete_folder(self, name: str) -> None:
        fs = self._filesystem()
        if fs is None:
            return
        jvm, hfs, _ = fs
        hfs.delete(jvm.org.apache.hadoop.fs.Path(self.location(name)), True)

    def _catalog_has(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{self.database}.{name}"))

    def exists(self, name: str) -> bool:
        if name in self._temp_tables:
            return True
        return bool(self._catalog_has(name))

    # -- writes -----------------------------------------------------------------------------

    def write_frame(self, name: str, frame: DataFrame, mode: WriteMode) -> None:
        if mode == "append" and self.exists(name):
            # By name, as DuckDB's INSERT ... BY NAME: sources may omit optional columns.
            target = self.spark.table(self.qualified(name))
            present = set(frame.columns)
            from pyspark.sql import functions as F

            aligned = frame.select(
                *[
                    (F.col(f.name) if f.name in present else F.lit(None))
                    .cast(f.dataType)
                    .alias(f.name)
                    for f in target.schema.fields
                ]
            )
            aligned.write.insertInto(self.qualified(name))
            return
        self.replace_with(name, frame)

    def replace_with(self, name: str, frame: DataFrame) -> None:
        """Make ``frame`` the whole content of table ``name`` (created when absent)."""
        if self._catalog_has(name):
            # Cut the lineage to the files about to be overwritten.
            frame = frame.localCheckpoint(eager=True)
            self.spark.sql(f"DROP TABLE {self.qualified(name)}")
        frame.write.mode("overwrite").format("parquet").option(
            "path", self.location(name)
        ).saveAsTable(self.qualified(name))

    # -- DDL / DML that Parquet tables lack --------------------------------------------------

    def handles(self, tree: exp.Expression) -> bool:
        if isinstance(tree, exp.Create):
            return tree.kind == "TABLE" or (tree.kind == "VIEW" and not _temporary(tree))
        if isinstance(tree, exp.Drop):
            return tree.kind in {"TABLE", "VIEW"}
        return isinstance(tree, exp.Delete | exp.Update)

    def run_ddl_or_dml(self, tree: exp.Expression, run_sql: RunSql) -> None:
        match tree:
            case exp.Create(kind="VIEW"):
                run_sql(tree.sql(dialect="spark"), None)
                assert tree.expression is not None
                self.views.save(self._name(tree.this), tree.expression.sql(dialect="spark"))
            case exp.Drop(kind="VIEW"):
                run_sql(tree.sql(dialect="spark"), None)
                for table in tree.args.get("tables") or [tree.this]:
                    self.views.forget(self._name(table))
            case exp.Create():
                self._create(tree, run_sql)
            case exp.Drop():
                self._drop(tree)
            case exp.Delete():
                self._delete(tree)
            case exp.Update():
                self._update(tree)

    def _name(self, table: exp.Expression) -> str:
        node = table.this if isinstance(table, exp.Schema) else table
        assert isinstance(node, exp.Table)
        return node.name

    def _create(self, tree: exp.Create, run_sql: RunSql) -> None:
        name = self._name(tree.this)
        temporary = _temporary(tree)
        query = tree.expression
        if temporary:
            # A session-scoped result: a cached temp view stands in for DuckDB's TEMP TABLE.
            assert query is not None
            frame = self.spark.sql(query.sql(dialect="spark")).localCheckpoint(eager=True)
            frame.createOrReplaceTempView(name)
            self._temp_tables.add(name)
            return
        exists = self._catalog_has(name)
        if query is None:
            if exists:
                return
            assert isinstance(tree.this, exp.Schema)
            columns = ", ".join(c.sql(dialect="spark") for c in tree.this.expressions)
            self._delete_folder(name)
            # An empty Parquet file carrying the schema: the table then survives a new session
            # (re-registered from its folder like any other) even before its first row.
            self.spark.createDataFrame([], columns).coalesce(1).write.mode("overwrite").parquet(
                self.location(name)
            )
            run_sql(
                f"CREATE TABLE {self.qualified(name)} ({columns}) USING parquet "
                f"LOCATION '{self.location(name)}'",
                None,
            )
            return
        if exists and not tree.args.get("replace"):
            if tree.args.get("exists"):
                return
            raise ValueError(f"table {name} already exists")
        frame = self.spark.sql(query.sql(dialect="spark"))
        if not exists:
            self._delete_folder(name)
        self.replace_with(name, frame)

    def _drop(self, tree: exp.Drop) -> None:
        tables = tree.args.get("tables") or [tree.this]
        for table in tables:
            self._drop_one(self._name(table), bool(tree.args.get("exists")))

    def _drop_one(self, name: str, if_exists: bool) -> None:
        if name in self._temp_tables:
            self.spark.catalog.dropTempView(name)
            self._temp_tables.discard(name)
            return
        if self._catalog_has(name):
            self.spark.sql(f"DROP TABLE {self.qualified(name)}")
            self._delete_folder(name)
        elif not if_exists:
            raise ValueError(f"table {name} does not exist")

    def _delete(self, tree: exp.Delete) -> None:
        name = self._name(tree.this)
        where = tree.args.get("where")
        if tree.args.get("using"):
            self._delete_using(tree, name)
            return
        table = self.spark.table(self.qualified(name))
        if where is None:
            self.replace_with(name, table.limit(0))
            return
        # Keep the rows the condition is not TRUE for (NULL counts as not deleted, as in SQL).
        keep = exp.not_(exp.func("COALESCE", where.this, exp.false()))
        self.replace_with(name, table.where(keep.sql(dialect="spark")))

    def _delete_using(self, tree: exp.Delete, name: str) -> None:
        """``DELETE FROM t USING src p WHERE cond``: keep the rows of ``t`` no source row matches
        (a LEFT ANTI JOIN; a NULL condition is no match, as in SQL)."""
        using = tree.args["using"]
        if len(using) != 1:
            raise ValueError(f"deleting from {name} with USING: one source table only on Spark")
        where = tree.args.get("where")
        condition = where.this if where is not None else exp.true()
        target = exp.to_table(f"{self.database}.{name}", alias=name)
        query = (
            exp.select(exp.column(exp.Star(), table=name))
            .from_(target)
            .join(using[0].copy(), on=condition.copy(), join_type="left anti")
        )
        self.replace_with(name, self.spark.sql(query.sql(dialect="spark")))

    def _update(self, tree: exp.Update) -> None:
        name = self._name(tree.this)
        if _from_clause(tree) is not None:
            self._update_from(tree, name)
            return
        table = self.spark.table(self.qualified(name))
        where = tree.args.get("where")
        condition = where.this if where is not None else exp.true()
        sets = {eq.this.name: eq.expression for eq in tree.expressions}
        columns = []
        for field in table.schema.fields:
            col: exp.Expr = exp.column(field.name, quoted=True)
            if field.name in sets:
                value = exp.cast(
                    sets[field.name],
                    exp.DataType.build(field.dataType.simpleString(), dialect="spark"),
                )
                col = (
                    exp.Case().when(condition.copy(), value).else_(col).as_(field.name, quoted=True)
                )
            columns.append(col.sql(dialect="spark"))
        self.replace_with(name, table.selectExpr(*columns))

    def _update_from(self, tree: exp.Update, name: str) -> None:
        """``UPDATE t SET c = s.x FROM src AS s WHERE t.k = s.k`` as a rewrite over a LEFT JOIN.

        Every row of ``t`` is kept; a row the condition matches takes the new values. As in
        PostgreSQL and DuckDB, a target row must match at most one source row (else the
        statement is ambiguous); here a second match would duplicate the row, so it is refused.
        """
        clause = _from_clause(tree)
        assert clause is not None
        source = clause.this
        alias = source.alias_or_name
        bare = source.copy()
        bare.set("alias", None)
        flagged = exp.Subquery(
            this=exp.select(exp.Star(), exp.alias_(exp.true(), _MATCHED)).from_(bare),
            alias=exp.TableAlias(this=exp.to_identifier(alias)),
        )
        where = tree.args.get("where")
        condition = where.this if where is not None else exp.true()
        matched = exp.column(_MATCHED, table=alias).is_(exp.true())
        sets = {eq.this.name: eq.expression for eq in tree.expressions}
        fields = self.spark.table(self.qualified(name)).schema.fields
        columns: list[exp.Expr] = []
        for field in fields:
            col: exp.Expr = exp.column(field.name, table=name, quoted=True)
            if field.name in sets:
                kind = exp.DataType.build(field.dataType.simpleString(), dialect="spark")
                value = exp.cast(sets[field.name].copy(), kind)
                col = exp.Case().when(matched.copy(), value).else_(col)
            columns.append(exp.alias_(col, field.name, quoted=True))
        target = exp.to_table(f"{self.database}.{name}", alias=name)
        query = (
            exp.select(*columns).from_(target).join(flagged, on=condition.copy(), join_type="left")
        )
        frame = self.spark.sql(query.sql(dialect="spark"))
        before = self.spark.table(self.qualified(name)).count()
        frame = frame.localCheckpoint(eager=True)
        if frame.count() != before:
            raise ValueError(f"UPDATE {name} ... FROM: a row of {name} matches several source rows")
        self.replace_with(name, frame)


_MATCHED = "__cvm_matched"


def _temporary(tree: exp.Create) -> bool:
    properties = tree.args.get("properties") or exp.Properties()
    return any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions)


def _from_clause(tree: exp.Expression) -> exp.From | None:
    """An UPDATE's ``FROM`` (sqlglot 30 names the argument ``from_``, older ones ``from``)."""
    clause = tree.args.get("from_") or tree.args.get("from")
    return clause if isinstance(clause, exp.From) else None
