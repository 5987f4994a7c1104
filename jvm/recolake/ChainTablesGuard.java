package recolake;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.CurrentUserContext;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * A Spark SQL extension for the shared Thrift Server: a session whose user is not one of the chain's
 * ({@code spark.recolake.chainWriters}) may read the chain's schemas ({@code spark.recolake.chainSchemas})
 * but not write them. The chain's own jobs (no Thrift session: no current user) are not checked.
 *
 * <p>A write is a command of the analyzed plan (inserts, merges, deletes, updates, CREATE / REPLACE / DROP /
 * ALTER, Delta's OPTIMIZE, VACUUM, RESTORE, ...); its target is what the command names as its table, found by
 * the accessor the command classes use for it. Reads inside the command (a CTAS's query, a merge's source)
 * are not targets. Commands that only show or describe are not writes.
 */
public final class ChainTablesGuard extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
    static final String SCHEMAS = "spark.recolake.chainSchemas";
    static final String WRITERS = "spark.recolake.chainWriters";
    // Accessors of a command's target, most specific first (MERGE: targetTable; Delta's commands: target;
    // V2 writes and ALTER: table; CREATE / REPLACE: name; DROP, OPTIMIZE, VACUUM: child).
    static final String[] TARGET_ACCESSORS = {"targetTable", "target", "table", "tableName", "name", "child"};
    // Commands that only look, or change the session (not a table): by class-name prefix, then by name.
    static final String[] LOOKING = {"Show", "Describe", "Explain", "Cache", "Uncache", "Refresh", "Analyze",
                                     "Clear", "List"};
    static final Set<String> SESSION_ONLY = Set.of("SetCommand", "ResetCommand", "SetNamespaceCommand",
        "SetCatalogCommand", "SetCatalogAndNamespace", "UseStatement", "AddFilesCommand", "AddJarsCommand",
        "AddArchivesCommand", "SetVariable", "CreateVariable", "DropVariable");

    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
        extensions.injectCheckRule(new AbstractFunction1<SparkSession, Function1<LogicalPlan, BoxedUnit>>() {
            @Override
            public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
                return new Check(session);
            }
        });
        return BoxedUnit.UNIT;
    }

    static final class Check extends AbstractFunction1<LogicalPlan, BoxedUnit> {
        private final SparkSession session;

        Check(SparkSession session) {
            this.session = session;
        }

        @Override
        public BoxedUnit apply(LogicalPlan plan) {
            String user = CurrentUserContext.CURRENT_USER().get();
            if (user == null) {
                return BoxedUnit.UNIT;
            }
            Set<String> writers = listSetting(WRITERS);
            Set<String> schemas = listSetting(SCHEMAS);
            if (writers.contains(user) || schemas.isEmpty()) {
                return BoxedUnit.UNIT;
            }
            List<LogicalPlan> commands = new ArrayList<>();
            collectCommands(plan, commands);
            for (LogicalPlan command : commands) {
                for (String table : targets(command)) {
                    String schema = table.contains(".") ? table.substring(0, table.lastIndexOf('.')) : "";
                    schema = schema.substring(schema.lastIndexOf('.') + 1).toLowerCase();
                    if (schemas.contains(schema)) {
                        throw new SecurityException("recolake: " + table + " is written by the chain only ("
                            + "schemas " + String.join(", ", schemas) + "); " + user
                            + " may read it: build your own models into a schema of yours");
                    }
                }
            }
            return BoxedUnit.UNIT;
        }

        private Set<String> listSetting(String key) {
            String value = session.conf().get(key, "");
            Set<String> items = new HashSet<>();
            for (String item : value.split(",")) {
                if (!item.isBlank()) {
                    items.add(item.trim().toLowerCase());
                }
            }
            return items;
        }
    }

    static void collectCommands(LogicalPlan plan, List<LogicalPlan> found) {
        if (plan instanceof Command && isWrite(plan)) {
            found.add(plan);
        }
        scala.collection.Iterator<LogicalPlan> children = plan.children().iterator();
        while (children.hasNext()) {
            collectCommands(children.next(), found);
        }
    }

    static boolean isWrite(LogicalPlan command) {
        String name = command.getClass().getSimpleName();
        return !SESSION_ONLY.contains(name) && Arrays.stream(LOOKING).noneMatch(name::startsWith);
    }

    /** The qualified names of the tables a write command writes ("schema.table", "catalog.schema.table"). */
    static List<String> targets(LogicalPlan command) {
        List<String> names = new ArrayList<>();
        for (String accessor : TARGET_ACCESSORS) {
            Object target = call(command, accessor);
            if (target != null) {
                describe(target, names);
                if (!names.isEmpty()) {
                    return names;
                }
            }
        }
        return names;
    }

    /** The table names an accessor's result stands for: identifiers, catalog tables, relations. */
    static void describe(Object target, List<String> names) {
        if (target instanceof scala.Option<?> option) {
            if (option.isDefined()) {
                describe(option.get(), names);
            }
            return;
        }
        if (target instanceof org.apache.spark.sql.connector.catalog.Identifier identifier) {
            names.add(String.join(".", identifier.namespace()) + "." + identifier.name());
        } else if (target instanceof org.apache.spark.sql.catalyst.TableIdentifier identifier) {
            names.add(identifier.unquotedString());
        } else if (target instanceof org.apache.spark.sql.catalyst.catalog.CatalogTable table) {
            names.add(table.identifier().unquotedString());
        } else if (target instanceof scala.collection.Seq<?> parts) {
            names.add(parts.mkString("."));  // a multi-part name
        } else if (target instanceof LogicalPlan relation) {
            for (String accessor : new String[] {"identifier", "catalogTable", "tableMeta", "table"}) {
                Object inner = call(relation, accessor);
                if (inner != null && inner != relation) {
                    describe(inner, names);
                    if (!names.isEmpty()) {
                        return;
                    }
                }
            }
            scala.collection.Iterator<LogicalPlan> children = relation.children().iterator();
            while (children.hasNext() && names.isEmpty()) {  // an alias or a projection over the relation
                describe(children.next(), names);
            }
        } else if (target.getClass().getSimpleName().equals("DeltaTableV2")) {
            describe(call(target, "catalogTable"), names);
        }
    }

    static Object call(Object target, String method) {
        if (target == null) {
            return null;
        }
        try {
            Method found = target.getClass().getMethod(method);
            return found.getParameterCount() == 0 ? found.invoke(target) : null;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
