package heimdall.capture;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.neo4j.graphdb.Entity;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.event.LabelEntry;
import org.neo4j.graphdb.event.PropertyEntry;
import org.neo4j.graphdb.event.TransactionData;

/**
 * The remediation commit guard in Java (issue 12, item 2), in place of the APOC trigger heimdall_policy
 * (daemon/db/policy-trigger.ts, POLICY_TRIGGER_STATEMENT): the same judgement of a transaction by what it
 * really changed, the same report, and no APOC trigger for Neo4j to run on every other transaction.
 *
 * It acts only on transactions whose metadata carries heimdallPolicy with engine = 'extension' (the
 * daemon marks its policy so when it found this guard, and the APOC trigger leaves marked policies
 * alone, so each guarded transaction is judged by exactly one of them):
 *   {maxNodesDeleted, maxRelationshipsDeleted, maxLabelsRemoved}: fail the commit when the transaction
 *     deleted or unlabelled more than that (an absent limit is no limit), or touched a node with a
 *     Heimdall* label (assigned or removed such a label, or set or removed a property of such a node);
 *   {probe: true, sample: n}: always fail, with the counts and the first n deleted nodes and
 *     relationships (labels, type, ends, properties as JSON cut at 200 characters, 20 per entity).
 * The failure's message is HEIMDALL_POLICY&lt;&lt;{json}&gt;&gt;HEIMDALL_POLICY, as the trigger's; parseGuardError
 * reads either. Called by OutboxCaptureListener before it captures, so it judges the writer's changes only.
 */
final class PolicyGuard {
    static final String VERSION = "1";
    private static final String MARK = "HEIMDALL_POLICY<<";
    private static final String END = ">>HEIMDALL_POLICY";
    private static final int VALUE_CHARS = 200;
    private static final int PROPS_PER_ENTITY = 20;
    private static final int DEFAULT_SAMPLE = 10;

    private PolicyGuard() {}

    /** Throws the guard's report when the transaction's policy says it may not commit; returns otherwise. */
    static void check(TransactionData data, Map<String, Object> meta) {
        if (!(meta.get("heimdallPolicy") instanceof Map<?, ?> policy) || !"extension".equals(policy.get("engine"))) return;
        boolean probe = Boolean.TRUE.equals(policy.get("probe"));

        List<Node> deletedNodes = new ArrayList<>();
        Set<String> deleted = new HashSet<>();
        for (Node n : data.deletedNodes()) {
            deletedNodes.add(n);
            deleted.add(n.getElementId());
        }
        List<Relationship> deletedRels = new ArrayList<>();
        for (Relationship r : data.deletedRelationships()) deletedRels.add(r);

        long labelsRemoved = 0;
        Set<String> assignedOwn = new LinkedHashSet<>();
        Set<String> removedOwn = new LinkedHashSet<>();
        for (LabelEntry e : data.assignedLabels()) {
            if (e.label().name().startsWith("Heimdall")) assignedOwn.add(e.label().name());
        }
        for (LabelEntry e : data.removedLabels()) {
            if (e.label().name().startsWith("Heimdall")) removedOwn.add(e.label().name());
            if (!deleted.contains(e.node().getElementId())) labelsRemoved++;
        }
        List<String> ownLabels = new ArrayList<>(assignedOwn);
        ownLabels.addAll(removedOwn);
        boolean own = !ownLabels.isEmpty() || touchesOwn(data.assignedNodeProperties(), deleted) || touchesOwn(data.removedNodeProperties(), deleted);

        boolean refuse = probe || own
                || over(deletedNodes.size(), policy.get("maxNodesDeleted"))
                || over(deletedRels.size(), policy.get("maxRelationshipsDeleted"))
                || over(labelsRemoved, policy.get("maxLabelsRemoved"));
        if (!refuse) return;

        int sample = policy.get("sample") instanceof Number s ? (int) Math.max(0, Math.min(s.longValue(), Integer.MAX_VALUE)) : DEFAULT_SAMPLE;
        Map<String, Sampled> nodes = new LinkedHashMap<>();
        for (Node n : deletedNodes.subList(0, Math.min(sample, deletedNodes.size()))) nodes.put(n.getElementId(), new Sampled());
        Map<String, Sampled> rels = new LinkedHashMap<>();
        Map<String, Relationship> relOf = new LinkedHashMap<>();
        for (Relationship r : deletedRels.subList(0, Math.min(sample, deletedRels.size()))) {
            rels.put(r.getElementId(), new Sampled());
            relOf.put(r.getElementId(), r);
        }
        for (LabelEntry e : data.removedLabels()) {
            Sampled s = nodes.get(e.node().getElementId());
            if (s != null) s.labels.add(e.label().name());
        }
        sampleProperties(data.removedNodeProperties(), nodes);
        sampleProperties(data.removedRelationshipProperties(), rels);

        Json report = Json.object()
                .key("probe").any(probe).key("heimdallState").any(own).key("heimdallLabels").any(ownLabels)
                .key("nodesDeleted").any((long) deletedNodes.size()).key("relationshipsDeleted").any((long) deletedRels.size())
                .key("labelsRemoved").any(labelsRemoved);
        report.key("nodes").beginArray();
        for (Map.Entry<String, Sampled> n : nodes.entrySet()) {
            report.beginObject().key("id").value(n.getKey()).key("labels").any(n.getValue().labels);
            n.getValue().write(report.key("properties")).endObject();
        }
        report.endArray().key("relationships").beginArray();
        for (Map.Entry<String, Sampled> x : rels.entrySet()) {
            Relationship r = relOf.get(x.getKey());
            report.beginObject().key("id").value(x.getKey()).key("type").value(r.getType().name())
                    .key("start").value(r.getStartNode().getElementId()).key("end").value(r.getEndNode().getElementId());
            x.getValue().write(report.key("properties")).endObject();
        }
        report.endArray();
        throw new IllegalStateException(MARK + report.close() + END);
    }

    /** What the report shows of one deleted entity: the labels it lost and its properties as cut JSON text. */
    private static final class Sampled {
        final List<String> labels = new ArrayList<>();
        final Map<String, String> properties = new LinkedHashMap<>();

        Json write(Json j) {
            j.beginObject();
            for (Map.Entry<String, String> p : properties.entrySet()) j.key(p.getKey()).value(p.getValue());
            return j.endObject();
        }
    }

    private static <T extends Entity> void sampleProperties(Iterable<PropertyEntry<T>> removed, Map<String, Sampled> sampled) {
        if (sampled.isEmpty()) return;
        for (PropertyEntry<T> e : removed) {
            Sampled s = sampled.get(e.entity().getElementId());
            if (s == null || s.properties.size() >= PROPS_PER_ENTITY) continue;
            String json = Json.text(e.previouslyCommittedValue());
            // Code points, as Cypher's substring counts them.
            int cut = json.codePointCount(0, json.length()) > VALUE_CHARS ? json.offsetByCodePoints(0, VALUE_CHARS) : json.length();
            s.properties.put(e.key(), json.substring(0, cut));
        }
    }

    /** Whether a property of a node that is not deleted and has a Heimdall* label was set or removed. */
    private static boolean touchesOwn(Iterable<PropertyEntry<Node>> entries, Set<String> deleted) {
        for (PropertyEntry<Node> e : entries) {
            if (deleted.contains(e.entity().getElementId())) continue;
            for (Label l : e.entity().getLabels()) if (l.name().startsWith("Heimdall")) return true;
        }
        return false;
    }

    /** Whether count exceeds the limit; a limit that is absent or not a number is no limit. */
    private static boolean over(long count, Object limit) {
        return limit instanceof Number n && count > n.doubleValue();
    }
}
