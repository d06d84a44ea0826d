package heimdall.capture;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the outbox listener of each database is told to do: nothing (not installed), or capture with an
 * ordering ("relaxed" or "strict") and the install's internal key (transactions whose metadata carries
 * heimdallKey = key are Heimdall's own: not captured, not refused). Set by heimdall.capture.install,
 * kept in one file per database under the DBMS's data directory (data/heimdall-capture/DB.properties,
 * written whole and moved into place) so that it survives a restart, and read by the listener from
 * memory on every transaction.
 */
final class CaptureConfig {
    record Settings(String ordering, String key) {}

    private static final Map<String, Settings> BY_DATABASE = new ConcurrentHashMap<>();
    private static final Map<String, Path> FILES = new ConcurrentHashMap<>();

    private CaptureConfig() {}

    /** The settings of this database, or null when the listener is not installed there. */
    static Settings of(String database) {
        return BY_DATABASE.get(database);
    }

    /**
     * Reads the database's file (when there is one) at database start. A file that cannot be read or is not valid
     * leaves the listener uninstalled (the database still starts) and says so on stderr (neo4j.log); the daemon's
     * watchdog then finds capture off and installs it again, which writes the file anew.
     */
    static void load(String database, Path file) {
        FILES.put(database, file);
        BY_DATABASE.remove(database);
        if (!Files.exists(file)) return;
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("Heimdall's outbox listener cannot read its settings " + file + " (" + e.getMessage() + "), so it captures nothing in the database " + database + " until heimdall db install (or a daemon with capture: listener) installs it again.");
            return;
        }
        String ordering = p.getProperty("ordering");
        String key = p.getProperty("key");
        if (key == null || key.length() < 16 || !("relaxed".equals(ordering) || "strict".equals(ordering))) {
            System.err.println("Heimdall's outbox listener settings " + file + " are not valid (they need ordering relaxed or strict and a key of 16 or more characters), so it captures nothing in the database " + database + " until heimdall db install (or a daemon with capture: listener) installs it again.");
            return;
        }
        BY_DATABASE.put(database, new Settings(ordering, key));
    }

    /** Stores and applies new settings (null: uninstall). */
    static synchronized void put(String database, Settings settings) throws IOException {
        Path file = FILES.get(database);
        if (file == null) throw new IOException("The Heimdall capture extension is not running for the database " + database + ".");
        if (settings == null) {
            Files.deleteIfExists(file);
            BY_DATABASE.remove(database);
            return;
        }
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Properties p = new Properties();
        p.setProperty("ordering", settings.ordering());
        p.setProperty("key", settings.key());
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "Heimdall outbox capture of the database " + database + " (written by heimdall.capture.install)");
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        BY_DATABASE.put(database, settings);
    }

    /** Forgets a stopped database (its file stays). */
    static void unload(String database) {
        FILES.remove(database);
        BY_DATABASE.remove(database);
    }

    /** Whether the extension runs for this database. */
    static boolean running(String database) {
        return FILES.containsKey(database);
    }
}
