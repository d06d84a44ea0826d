package heimdall.capture;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.graphdb.event.LabelEntry;
import org.neo4j.graphdb.event.PropertyEntry;
import org.neo4j.graphdb.event.TransactionData;
import org.neo4j.graphdb.event.TransactionEventListener;

/**
 * The outbox capture as a kernel transaction listener (issue 12, item 2), in place of the APOC trigger
 * (daemon/sources/neo4j-apoc/outbox-trigger.ts). In the before-commit phase it writes the same
 * (:HeimdallOutbox {seq, epoch, committedAt, txMeta, changes, bytes}) entry the trigger writes, built in
 * Java from the transaction data, so the entry commits or rolls back with the writer; and it keeps the
 * same rules, in the same order:
 *  1. internal: the metadata's heimdallKey equals the install's key (CaptureConfig): Heimdall's own write.
 *     When it lowers the counter's value, the counter moves to a new epoch (heal); nothing is captured.
 *  2. guard: any other transaction that deletes, changes or unlabels a node with one of Heimdall's labels,
 *     or creates or labels an outbox entry, dead letter or counter, is refused with the trigger's message.
 *  3. capture: one entry per transaction that changed something; seq from the counter (strict: the
 *     counter is write-locked before it is read, so seq order is commit order) or the clock in epoch
 *     nanoseconds, strictly increasing in this JVM (relaxed); epoch from the counter.
 * It captures nothing in a database where heimdall.capture.install was not called. Before all of it, in every
 * database, it runs the remediation commit guard (PolicyGuard) on the transactions the daemon marked for it.
 */
public final class OutboxCaptureListener implements TransactionEventListener<Object> {
    static final String VERSION = "1";
    static final Label OUTBOX = Label.label("HeimdallOutbox");
    static final Label COUNTER = Label.label("HeimdallOutboxSeq");
    private static final Set<String> GUARDED = Set.of("HeimdallOutbox", "HeimdallOutboxSeq", "HeimdallOutboxFailed", "HeimdallAudit");
    private static final Set<String> FORGEABLE = Set.of("HeimdallOutbox", "HeimdallOutboxSeq", "HeimdallOutboxFailed");
    /** daemon/db/own-state.ts REFUSAL_TEMPLATE, with the labels in place of %s. */
    static final String REFUSAL = "Heimdall refuses this transaction: it would delete or change Heimdall's own nodes (:%s). "
            + "Those nodes are the change-capture outbox, its sequence, its dead letters and the audit mirror; only the Heimdall daemon writes them. "
            + "Leave them out of the statement, e.g. MATCH (n) WHERE NOT any(l IN labels(n) WHERE l STARTS WITH 'Heimdall'); "
            + "to remove the outbox run `heimdall db uninstall --purge`.";

    private final String database;
    /** Longest a strict transaction waits for another one to re-create the counter, s. */
    private static final long CREATE_WAIT_S = 30;
    /** Held by the transaction that creates the strict counter, from before its creation until it committed or rolled back. */
    private final Semaphore creating = new Semaphore(1);
    /** The last relaxed seq handed out: epoch nanoseconds, made strictly increasing within this JVM. */
    private final AtomicLong lastSeq = new AtomicLong();

    OutboxCaptureListener(String database) {
        this.database = database;
    }

    @Override
    public Object beforeCommit(TransactionData data, Transaction tx, GraphDatabaseService db) {
        Map<String, Object> meta = data.metaData();
        // The remediation commit guard first, whether or not capture is installed, so that it judges the writer's changes only.
        PolicyGuard.check(data, meta);
        CaptureConfig.Settings settings = CaptureConfig.of(database);
        if (settings == null) return null;
        Object given = meta.get("heimdallKey");
        if (given instanceof String k && MessageDigest.isEqual(k.getBytes(StandardCharsets.UTF_8), settings.key().getBytes(StandardCharsets.UTF_8))) {
            heal(data);
            return null;
        }

        Set<String> created = new HashSet<>();
        Json nc = Json.array();
        for (Node n : data.createdNodes()) {
            String id = n.getElementId();
            created.add(id);
            nc.beginObject().key("i").value(id).key("l").labels(n).key("p").properties(n).endObject();
        }
        Set<String> deleted = new HashSet<>();
        Json nd = Json.array();
        for (Node n : data.deletedNodes()) {
            String id = n.getElementId();
            deleted.add(id);
            nd.value(id);
        }
        Map<String, Node> updated = new LinkedHashMap<>();
        Set<String> hit = new HashSet<>();
        Json npa = Json.array();
        for (PropertyEntry<Node> e : data.assignedNodeProperties()) {
            String id = e.entity().getElementId();
            if (created.contains(id) || deleted.contains(id)) continue;
            npa.beginArray().value(id).value(e.key()).any(e.previouslyCommittedValue()).any(e.value()).endArray();
            updated.putIfAbsent(id, e.entity());
        }
        Json npr = Json.array();
        for (PropertyEntry<Node> e : data.removedNodeProperties()) {
            String id = e.entity().getElementId();
            if (created.contains(id)) continue;
            npr.beginArray().value(id).value(e.key()).any(e.previouslyCommittedValue()).endArray();
            if (!deleted.contains(id)) updated.putIfAbsent(id, e.entity());
        }
        Json nla = Json.array();
        for (LabelEntry e : data.assignedLabels()) {
            String label = e.label().name();
            if (FORGEABLE.contains(label)) hit.add(label);
            String id = e.node().getElementId();
            if (created.contains(id) || deleted.contains(id)) continue;
            nla.beginArray().value(id).value(label).endArray();
            updated.putIfAbsent(id, e.node());
        }
        Json nlr = Json.array();
        for (LabelEntry e : data.removedLabels()) {
            String label = e.label().name();
            if (GUARDED.contains(label)) hit.add(label);
            String id = e.node().getElementId();
            nlr.beginArray().value(id).value(label).endArray();
            if (!deleted.contains(id)) updated.putIfAbsent(id, e.node());
        }
        for (Node n : updated.values()) {
            for (Label l : n.getLabels()) if (GUARDED.contains(l.name())) hit.add(l.name());
        }
        if (!hit.isEmpty()) {
            throw new IllegalStateException(String.format(REFUSAL, String.join(", :", new java.util.TreeSet<>(hit))));
        }
        Json nu = Json.object();
        for (Map.Entry<String, Node> u : updated.entrySet()) {
            nu.key(u.getKey()).beginObject().key("l").labels(u.getValue()).key("p").properties(u.getValue()).endObject();
        }

        Set<String> rcreated = new HashSet<>();
        Json rc = Json.array();
        for (Relationship r : data.createdRelationships()) {
            String id = r.getElementId();
            rcreated.add(id);
            rel(rc.beginObject().key("i").value(id), r).key("p").properties(r).endObject();
        }
        Set<String> rdeleted = new HashSet<>();
        Json rd = Json.array();
        for (Relationship r : data.deletedRelationships()) {
            String id = r.getElementId();
            rdeleted.add(id);
            rel(rd.beginObject().key("i").value(id), r).endObject();
        }
        Map<String, Relationship> rupdated = new LinkedHashMap<>();
        Json rpa = Json.array();
        for (PropertyEntry<Relationship> e : data.assignedRelationshipProperties()) {
            String id = e.entity().getElementId();
            if (rcreated.contains(id) || rdeleted.contains(id)) continue;
            rpa.beginArray().value(id).value(e.key()).any(e.previouslyCommittedValue()).any(e.value()).endArray();
            rupdated.putIfAbsent(id, e.entity());
        }
        Json rpr = Json.array();
        for (PropertyEntry<Relationship> e : data.removedRelationshipProperties()) {
            String id = e.entity().getElementId();
            if (rcreated.contains(id)) continue;
            rpr.beginArray().value(id).value(e.key()).any(e.previouslyCommittedValue()).endArray();
            if (!rdeleted.contains(id)) rupdated.putIfAbsent(id, e.entity());
        }
        Json ru = Json.object();
        for (Map.Entry<String, Relationship> u : rupdated.entrySet()) {
            rel(ru.key(u.getKey()).beginObject(), u.getValue()).key("p").properties(u.getValue()).endObject();
        }

        List<Json> parts = List.of(nc, nd, npa, npr, nla, nlr, rc, rd, rpa, rpr);
        if (parts.stream().allMatch(Json::isEmptyContainer)) return null;
        Json ch = Json.object();
        ch.key("nc").raw(nc.close()).key("nd").raw(nd.close()).key("nu").raw(nu.close())
                .key("npa").raw(npa.close()).key("npr").raw(npr.close()).key("nla").raw(nla.close()).key("nlr").raw(nlr.close())
                .key("rc").raw(rc.close()).key("rd").raw(rd.close()).key("ru").raw(ru.close())
                .key("rpa").raw(rpa.close()).key("rpr").raw(rpr.close());
        String changes = ch.close();
        String txMeta = Json.object().entries(meta).close();

        boolean strict = "strict".equals(settings.ordering());
        Node counter = counter(tx);
        // A missing strict counter (deleted with the key) starts again at 0 in a new epoch, as the trigger's MERGE does.
        // One transaction at a time creates it, holding `creating` until it has committed or rolled back (afterCommit,
        // afterRollback): the others wait, then find the counter it committed, so that concurrent writers neither make
        // two counters (two runs of seqs) nor fail on the counter's uniqueness constraint.
        boolean creates = false;
        if (strict && counter == null) {
            acquireCreating();
            counter = counter(tx); // committed meanwhile by the transaction that held it
            if (counter != null) creating.release();
            else creates = true;
        }
        try {
            long seq;
            Object epoch;
            if (strict) {
                if (creates) counter = createCounter(tx);
                tx.acquireWriteLock(counter);
                seq = number(counter.getProperty("value", 0L)) + 1;
                counter.setProperty("value", seq);
                epoch = counter.getProperty("epoch", 0L);
            } else {
                seq = nextSeq();
                epoch = counter == null ? 0L : counter.getProperty("epoch", 0L);
            }
            writeEntry(tx, seq, epoch, txMeta, changes);
        } catch (RuntimeException e) {
            if (creates) creating.release();
            throw e;
        }
        return creates ? creating : null;
    }

    /** Waits for the right to create the counter; a transaction that waits this long fails and can be tried again. */
    private void acquireCreating() {
        try {
            if (creating.tryAcquire(CREATE_WAIT_S, TimeUnit.SECONDS)) return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new IllegalStateException("Heimdall's outbox listener waited " + CREATE_WAIT_S + " s for another transaction to re-create the outbox counter of the database "
                + database + ", so this transaction was not committed; try it again.");
    }

    private static Node createCounter(Transaction tx) {
        Node counter = tx.createNode(COUNTER);
        counter.setProperty("name", "outbox");
        counter.setProperty("epoch", System.currentTimeMillis());
        return counter;
    }

    private static void writeEntry(Transaction tx, long seq, Object epoch, String txMeta, String changes) {
        Node entry = tx.createNode(OUTBOX);
        entry.setProperty("seq", seq);
        entry.setProperty("epoch", epoch);
        entry.setProperty("committedAt", System.currentTimeMillis());
        entry.setProperty("txMeta", txMeta);
        entry.setProperty("changes", changes);
        // Code points, as the trigger's Cypher size() counts them.
        entry.setProperty("bytes", (long) (changes.codePointCount(0, changes.length()) + txMeta.codePointCount(0, txMeta.length())));
    }

    /** The counter node, or null (the first of several, should the uniqueness constraint be gone). */
    private static Node counter(Transaction tx) {
        try (ResourceIterator<Node> it = tx.findNodes(COUNTER, "name", "outbox")) {
            return it.hasNext() ? it.next() : null;
        }
    }

    private static long number(Object v) {
        return v instanceof Number n ? n.longValue() : 0L;
    }

    /** An internal transaction that lowered the counter's value moves it to a new epoch (the trigger's heal). */
    private static void heal(TransactionData data) {
        for (PropertyEntry<Node> e : data.assignedNodeProperties()) {
            if (!"value".equals(e.key()) || data.isDeleted(e.entity()) || !e.entity().hasLabel(COUNTER)) continue;
            Object old = e.previouslyCommittedValue();
            if (old instanceof Number o && e.value() instanceof Number n && o.longValue() > n.longValue()) {
                long epoch = number(e.entity().getProperty("epoch", 0L));
                e.entity().setProperty("epoch", Math.max(epoch + 1, System.currentTimeMillis()));
            }
        }
    }

    private static Json rel(Json j, Relationship r) {
        return j.key("t").value(r.getType().name()).key("s").value(r.getStartNode().getElementId()).key("e").value(r.getEndNode().getElementId());
    }

    /** Epoch nanoseconds, strictly increasing: two transactions in this JVM never get the same seq. */
    private long nextSeq() {
        java.time.Instant now = java.time.Instant.now();
        long ns = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        return lastSeq.updateAndGet(last -> Math.max(last + 1, ns));
    }

    @Override
    public void afterCommit(TransactionData data, Object state, GraphDatabaseService db) {
        if (state == creating) creating.release();
    }

    @Override
    public void afterRollback(TransactionData data, Object state, GraphDatabaseService db) {
        if (state == creating) creating.release();
    }
}
