package heimdall.capture;

import java.io.IOException;
import java.util.stream.Stream;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.procedure.Admin;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.procedure.Sensitive;

/**
 * heimdall.capture.install / uninstall / status: the outbox listener's settings for the database the
 * procedure is called in. Admin only, as APOC's trigger procedures are: the status answers the internal
 * key, which lets a transaction write Heimdall's own nodes. heimdall.policy.status: whether the commit
 * guard (PolicyGuard) runs there; open to every user, as it answers only a version.
 */
public final class CaptureProcedures {
    @Context
    public GraphDatabaseService db;

    public static final class Status {
        public String database;
        public boolean running;
        public boolean installed;
        public String ordering;
        public String key;
        public String version;

        Status(String database) {
            this.database = database;
            this.running = CaptureConfig.running(database);
            CaptureConfig.Settings s = CaptureConfig.of(database);
            this.installed = s != null;
            this.ordering = s == null ? null : s.ordering();
            this.key = s == null ? null : s.key();
            this.version = OutboxCaptureListener.VERSION;
        }
    }

    @Admin
    @Procedure(name = "heimdall.capture.install", mode = Mode.READ)
    @Description("heimdall.capture.install(ordering, key): the outbox listener of this database captures every transaction from now on (ordering 'relaxed' or 'strict'; transactions whose metadata has heimdallKey = key are Heimdall's own).")
    public Stream<Status> install(@Name("ordering") String ordering, @Name("key") @Sensitive String key) throws IOException {
        if (!"relaxed".equals(ordering) && !"strict".equals(ordering)) {
            throw new IllegalArgumentException("heimdall.capture.install needs the ordering 'relaxed' or 'strict', but got '" + ordering + "'.");
        }
        if (key == null || key.length() < 16) throw new IllegalArgumentException("heimdall.capture.install needs an internal key of 16 or more characters.");
        CaptureConfig.put(db.databaseName(), new CaptureConfig.Settings(ordering, key));
        return Stream.of(new Status(db.databaseName()));
    }

    @Admin
    @Procedure(name = "heimdall.capture.uninstall", mode = Mode.READ)
    @Description("heimdall.capture.uninstall(): the outbox listener of this database captures nothing from now on.")
    public Stream<Status> uninstall() throws IOException {
        CaptureConfig.put(db.databaseName(), null);
        return Stream.of(new Status(db.databaseName()));
    }

    public static final class PolicyStatus {
        public String database;
        public boolean running;
        public String version;

        PolicyStatus(String database) {
            this.database = database;
            this.running = CaptureConfig.running(database);
            this.version = PolicyGuard.VERSION;
        }
    }

    @Procedure(name = "heimdall.policy.status", mode = Mode.READ)
    @Description("heimdall.policy.status(): whether the remediation commit guard runs for this database (it judges the transactions whose metadata has heimdallPolicy with engine 'extension') and its version.")
    public Stream<PolicyStatus> policyStatus() {
        return Stream.of(new PolicyStatus(db.databaseName()));
    }

    @Admin
    @Procedure(name = "heimdall.capture.status", mode = Mode.READ)
    @Description("heimdall.capture.status(): whether the outbox listener runs for this database and what it was told (ordering, internal key).")
    public Stream<Status> status() {
        return Stream.of(new Status(db.databaseName()));
    }
}
