package heimdall;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;
import sun.misc.Signal;

/**
 * Starts an embedded Neo4j Community DBMS with APOC for Heimdall's tests and local development.
 * Usage: java -cp 'target/classes:target/lib/*' heimdall.Neo4jLauncher --port N --home DIR [--auth --password PW]
 *        [--stop-on-stdin-close] [--setting KEY=VALUE]...   (the password may come from NEO4J_LAUNCHER_PASSWORD instead)
 * Each --setting is written to neo4j.conf, in place of the launcher's own line of that name where it has one.
 * Prints exactly one line "NEO4J READY bolt://127.0.0.1:PORT" to stdout when Bolt accepts connections;
 * everything else goes to stderr. SIGTERM or SIGINT shut the DBMS down cleanly and exit with status 0.
 */
public final class Neo4jLauncher {
    public static void main(String[] args) throws Exception {
        int port = 7687;
        Path home = null;
        boolean auth = false;
        boolean stopOnStdinClose = false;
        String password = System.getenv("NEO4J_LAUNCHER_PASSWORD");
        java.util.List<String> settings = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--home" -> home = Path.of(args[++i]).toAbsolutePath();
                case "--auth" -> auth = true;
                case "--password" -> password = args[++i];
                case "--stop-on-stdin-close" -> stopOnStdinClose = true;
                case "--setting" -> {
                    String setting = i + 1 < args.length ? args[++i] : "";
                    if (!setting.matches("[a-z][a-z0-9_.]*=[^\\n]*")) {
                        fail("--setting needs KEY=VALUE with a Neo4j setting name such as db.logs.query.enabled=OFF, but got \"" + setting + "\".");
                    }
                    settings.add(setting);
                }
                default -> fail("Unknown argument " + args[i] + "; usage: --port N --home DIR [--auth --password PW] [--setting KEY=VALUE]...");
            }
        }
        if (home == null) fail("The --home DIR argument is required: it is where the database files are kept.");
        if (auth && (password == null || password.isEmpty())) {
            fail("--auth needs a password: pass --password PW or set NEO4J_LAUNCHER_PASSWORD.");
        }

        // neo4j.conf and apoc.conf are written to HOME/conf on every start, so the files show what is in force.
        // APOC reads apoc.conf from the configuration directory (HOME/conf), also in embedded mode.
        Path conf = Files.createDirectories(home.resolve("conf"));
        java.util.Map<String, String> config = new java.util.LinkedHashMap<>();
        for (String line : new String[] {
                "server.bolt.enabled=true",
                "server.bolt.listen_address=127.0.0.1:" + port,
                "server.bolt.advertised_address=127.0.0.1:" + port,
                "server.bolt.tls_level=DISABLED",
                "server.http.enabled=false",
                "server.https.enabled=false",
                "dbms.security.auth_enabled=" + auth,
                "dbms.security.auth_minimum_password_length=1",
                "dbms.security.procedures.unrestricted=apoc.*",
                "server.memory.pagecache.size=64m",
                "db.memory.transaction.total.max=256m",
                "db.tx_log.rotation.retention_policy=2 files",
                "db.tx_log.rotation.size=1M",
                "db.tx_log.preallocate=false",
                "server.directories.plugins=" + home.resolve("plugins"),
                "dbms.usage_report.enabled=false",
                // Without these the Bolt server idles 5 s in Netty's quiet period on every shutdown.
                "internal.dbms.bolt.netty_server_shutdown_quiet_period=0",
                "internal.dbms.bolt.netty_server_shutdown_timeout=2s",
        }) putSetting(config, line);
        // Neo4j refuses a setting declared twice: a --setting replaces the launcher's line of the same name.
        for (String line : settings) putSetting(config, line);
        StringBuilder text = new StringBuilder();
        config.forEach((key, value) -> text.append(key).append('=').append(value).append('\n'));
        Files.writeString(conf.resolve("neo4j.conf"), text.toString());
        Files.writeString(conf.resolve("apoc.conf"), "apoc.trigger.enabled=true\napoc.trigger.refresh=100\n");
        copyApocJarsToPlugins(Files.createDirectories(home.resolve("plugins")));

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .loadPropertiesFromFile(conf.resolve("neo4j.conf"))
                    .setUserLogProvider(new Log4jLogProvider(System.err, Level.INFO))
                    .build();
            if (auth) setInitialPassword(dbms, password);
        } catch (Throwable e) {
            e.printStackTrace();
            Throwable root = e;
            while (root.getCause() != null) root = root.getCause();
            fail(e.getMessage() + " (root cause: " + root + "). Details are in " + home.resolve("logs/debug.log") + ".");
            return;
        }

        // Every stop path (SIGTERM, SIGINT, stdin closed, JVM exit) runs the shutdown once; later callers wait for it.
        AtomicBoolean stopped = new AtomicBoolean(false);
        Runnable stop = () -> {
            synchronized (stopped) {
                if (stopped.get()) return;
                System.err.println("Neo4j launcher is shutting the DBMS down.");
                dbms.shutdown();
                stopped.set(true);
                System.err.println("Neo4j launcher shut the DBMS down cleanly.");
            }
        };
        Signal.handle(new Signal("TERM"), s -> { stop.run(); System.exit(0); });
        Signal.handle(new Signal("INT"), s -> { stop.run(); System.exit(0); });
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "neo4j-launcher-shutdown"));
        if (stopOnStdinClose) {
            // The parent holds our stdin open; if it dies without stopping us, stdin closes and we stop too.
            Thread watcher = new Thread(() -> {
                try { while (System.in.read() != -1) { /* ignore input */ } } catch (IOException ignored) { }
                System.err.println("Neo4j launcher's stdin closed (its parent process went away), so it stops.");
                stop.run();
                System.exit(0);
            }, "neo4j-launcher-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        System.out.println("NEO4J READY bolt://127.0.0.1:" + port);
        System.out.flush();
        new CountDownLatch(1).await(); // Neo4j runs on its own threads; this one waits for a signal.
    }

    /** Puts one KEY=VALUE line into the configuration, in place of an earlier line of that KEY. */
    private static void putSetting(java.util.Map<String, String> config, String line) {
        int eq = line.indexOf('=');
        config.put(line.substring(0, eq), line.substring(eq + 1));
    }

    /**
     * APOC must be on the classpath (for its extensions such as triggers) and in the plugins directory (for its procedures);
     * so must Heimdall's capture extension (heimdall/capture).
     */
    private static void copyApocJarsToPlugins(Path plugins) throws IOException {
        int copied = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path jar = Path.of(entry);
            if (jar.getFileName().toString().matches("apoc-.*\\.jar")) {
                Files.copy(jar, plugins.resolve(jar.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                copied++;
            }
        }
        if (copied == 0) fail("No apoc-*.jar is on the classpath; run `mvn -q -B -f neo4j/pom.xml package` first.");
        // Heimdall's outbox capture extension: its listener is found on the classpath, its heimdall.capture.* procedures in plugins.
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path classes = Path.of(entry);
            Path jar = classes.resolveSibling("heimdall-capture-plugin.jar");
            if (classes.getFileName().toString().equals("classes") && Files.exists(jar)) {
                Files.copy(jar, plugins.resolve(jar.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                return;
            }
        }
        fail("target/heimdall-capture-plugin.jar is missing beside target/classes; run `mvn -q -B -f neo4j/pom.xml package` first.");
    }

    /** The embedded API bypasses authentication, so the system database can set the password before Bolt is used. */
    private static void setInitialPassword(DatabaseManagementService dbms, String password) {
        var system = dbms.database("system");
        try {
            system.executeTransactionally("ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (RuntimeException e) {
            // Reusing a home whose password is already this one: only drop the change-required flag.
            if (!String.valueOf(e.getMessage()).contains("Old password and new password cannot be the same")) throw e;
            system.executeTransactionally("ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
        }
    }

    private static void fail(String message) {
        System.err.println("Neo4j launcher cannot start: " + message);
        System.exit(2);
    }
}
