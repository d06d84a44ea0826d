package heimdall.capture;

import java.lang.reflect.Array;
import java.util.ArrayDeque;
import java.util.Map;
import org.neo4j.graphdb.Entity;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.spatial.Point;

/**
 * A small streaming JSON writer for outbox entries: one StringBuilder, a comma flag per open container.
 * Values as apoc.convert.toJson (APOC's Jackson mapper, JsonUtil) writes them, so that the listener's entries
 * are the trigger's byte for byte: integers as themselves, floats as Double.toString writes them (2.0, -0.0,
 * 1.2345678E7, 1.0E-10) and NaN/Infinity/-Infinity as strings, strings with Jackson's escapes (\" \\ \b \t \n
 * \f \r, other control characters as a six-character escape (backslash, u, four upper-case hex digits), everything else as it is), arrays and lists as
 * lists, maps as objects, points as APOC's PointSerializer writes them ({crs, x, y, z} or {crs, latitude,
 * longitude, height}, the third coordinate null in 2D), and anything else (temporal values, durations) as
 * its toString, as APOC's TemporalSerializer and DurationValueSerializer do.
 */
final class Json {
    private final StringBuilder out = new StringBuilder(128);
    /** Per open container: true while nothing has been written into it. */
    private final ArrayDeque<boolean[]> first = new ArrayDeque<>();
    private boolean afterKey;
    private int written;

    static Json array() {
        return new Json().beginArray();
    }

    static Json object() {
        return new Json().beginObject();
    }

    /** One value as JSON text, as apoc.convert.toJson writes it on its own. */
    static String text(Object v) {
        String a = array().any(v).close();
        return a.substring(1, a.length() - 1);
    }

    /** True when the outermost container has nothing in it. */
    boolean isEmptyContainer() {
        return written == 0;
    }

    private void sep() {
        if (afterKey) {
            afterKey = false;
            return;
        }
        boolean[] f = first.peek();
        if (f == null) return;
        if (first.size() == 1) written++;
        if (f[0]) f[0] = false;
        else out.append(',');
    }

    Json beginArray() {
        sep();
        out.append('[');
        first.push(new boolean[] {true});
        return this;
    }

    Json endArray() {
        first.pop();
        out.append(']');
        return this;
    }

    Json beginObject() {
        sep();
        out.append('{');
        first.push(new boolean[] {true});
        return this;
    }

    Json endObject() {
        first.pop();
        out.append('}');
        return this;
    }

    Json key(String k) {
        sep();
        str(k);
        out.append(':');
        afterKey = true;
        return this;
    }

    Json value(String s) {
        sep();
        str(s);
        return this;
    }

    /** Already-written JSON text as one value. */
    Json raw(String json) {
        sep();
        out.append(json);
        return this;
    }

    Json any(Object v) {
        if (v == null) {
            sep();
            out.append("null");
        } else if (v instanceof String s) {
            value(s);
        } else if (v instanceof Boolean || v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            sep();
            out.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            sep();
            if (Double.isFinite(d)) out.append(Double.toString(d));
            else str(Double.toString(d));
        } else if (v instanceof Point p) {
            point(p);
        } else if (v instanceof Character c) {
            value(c.toString());
        } else if (v.getClass().isArray()) {
            beginArray();
            for (int i = 0, n = Array.getLength(v); i < n; i++) any(Array.get(v, i));
            endArray();
        } else if (v instanceof Map<?, ?> m) {
            beginObject();
            for (Map.Entry<?, ?> e : m.entrySet()) key(String.valueOf(e.getKey())).any(e.getValue());
            endObject();
        } else if (v instanceof Iterable<?> it) {
            beginArray();
            for (Object x : it) any(x);
            endArray();
        } else {
            value(v.toString());
        }
        return this;
    }

    Json entries(Map<String, Object> m) {
        for (Map.Entry<String, Object> e : m.entrySet()) key(e.getKey()).any(e.getValue());
        return this;
    }

    Json labels(Node n) {
        beginArray();
        for (Label l : n.getLabels()) value(l.name());
        return endArray();
    }

    Json properties(Entity e) {
        beginObject();
        for (Map.Entry<String, Object> p : e.getAllProperties().entrySet()) key(p.getKey()).any(p.getValue());
        return endObject();
    }

    /** A point as APOC's PointSerializer writes it: cartesian {crs, x, y, z}, WGS-84 {crs, latitude, longitude, height}; z/height null in 2D. */
    private void point(Point p) {
        String crs = p.getCRS().getType();
        double[] c = p.getCoordinate().getCoordinate();
        Object third = c.length > 2 ? (Object) c[2] : null;
        beginObject().key("crs").value(crs);
        if (crs.startsWith("cartesian")) key("x").any(c[0]).key("y").any(c[1]).key("z").any(third);
        else key("latitude").any(c[1]).key("longitude").any(c[0]).key("height").any(third);
        endObject();
    }

    /** Closes the outermost container and answers the text. */
    String close() {
        if (first.size() != 1) throw new IllegalStateException("An outbox entry's JSON was closed with " + first.size() + " containers open.");
        char open = out.charAt(0);
        out.append(open == '[' ? ']' : '}');
        first.clear();
        return out.toString();
    }

    private void str(String s) {
        out.append('"');
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04X", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }
}
