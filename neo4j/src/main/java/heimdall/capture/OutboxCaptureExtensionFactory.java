package heimdall.capture;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.kernel.extension.ExtensionFactory;
import org.neo4j.kernel.extension.ExtensionType;
import org.neo4j.kernel.extension.context.ExtensionContext;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.kernel.lifecycle.Lifecycle;
import org.neo4j.kernel.lifecycle.LifecycleAdapter;

/**
 * Registers OutboxCaptureListener for every database but system, with its settings file (CaptureConfig).
 * Neo4j finds it through META-INF/services; the heimdall.capture.* procedures (CaptureProcedures) come
 * from the same jar in the plugins directory.
 */
public final class OutboxCaptureExtensionFactory extends ExtensionFactory<OutboxCaptureExtensionFactory.Dependencies> {
    public interface Dependencies {
        GraphDatabaseAPI graphdatabaseAPI();

        DatabaseManagementService databaseManagementService();
    }

    public OutboxCaptureExtensionFactory() {
        super(ExtensionType.DATABASE, "heimdall-outbox-capture");
    }

    @Override
    public Lifecycle newInstance(ExtensionContext context, Dependencies deps) {
        String name = deps.graphdatabaseAPI().databaseName();
        if ("system".equals(name)) return new LifecycleAdapter();
        OutboxCaptureListener listener = new OutboxCaptureListener(name);
        // data/databases/NAME -> data/heimdall-capture/NAME.properties
        java.nio.file.Path file = deps.graphdatabaseAPI().databaseLayout().databaseDirectory().toAbsolutePath().getParent().getParent()
                .resolve("heimdall-capture").resolve(name + ".properties");
        return new LifecycleAdapter() {
            @Override
            public void start() {
                CaptureConfig.load(name, file);
                deps.databaseManagementService().registerTransactionEventListener(name, listener);
            }

            @Override
            public void stop() {
                CaptureConfig.unload(name);
                try {
                    deps.databaseManagementService().unregisterTransactionEventListener(name, listener);
                } catch (RuntimeException ignored) {
                    // the database is going away
                }
            }
        };
    }
}
