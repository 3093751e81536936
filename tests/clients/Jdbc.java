// acrm serve through pgJDBC, as DBeaver, Metabase and Tableau use it: SCRAM login,
// DatabaseMetaData (getTables, getColumns, getPrimaryKeys), a prepared statement with typed
// values (BigDecimal, LocalDate, OffsetDateTime), masking, and a savepoint that recovers a
// failed statement. Run as a single source file:
//   java -cp /usr/share/java/postgresql.jar tests/clients/Jdbc.java
// Prints the JSON document described in tests/clients/README.md.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class Jdbc {
    static final String TYPED =
        "SELECT order_id, quantity, unit_price, revenue, CAST(revenue AS DOUBLE PRECISION) AS revenue_f,"
            + " order_date, order_ts, source_system FROM fact_sales WHERE order_id = ? ORDER BY line_number";
    static final String MASKED =
        "SELECT name, email, phone FROM dim_customer WHERE customer_id = ? AND is_current";

    /** A JSON string literal. */
    static String str(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** A JSON array of already encoded values. */
    static String array(List<String> items) {
        return "[" + String.join(",", items) + "]";
    }

    static List<String> strings(ResultSet rs, String column) throws SQLException {
        List<String> out = new ArrayList<>();
        while (rs.next()) {
            out.add(str(rs.getString(column)));
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + System.getenv("ACRM_HOST") + ":" + System.getenv("ACRM_PORT")
            + "/" + System.getenv("ACRM_DATABASE");
        Properties props = new Properties();
        props.setProperty("user", System.getenv("ACRM_USER"));
        props.setProperty("password", System.getenv("ACRM_PASSWORD"));
        List<String> fields = new ArrayList<>();
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData meta = conn.getMetaData();
            fields.add("\"client\":" + str("pgJDBC " + meta.getDriverVersion() + " (Java "
                + System.getProperty("java.version") + ")"));
            fields.add("\"server_version\":" + str(meta.getDatabaseMajorVersion() + "."
                + meta.getDatabaseMinorVersion()));
            fields.add("\"tables\":" + array(strings(
                meta.getTables(null, "public", "%", new String[] {"TABLE"}), "TABLE_NAME")));
            fields.add("\"views\":" + array(strings(
                meta.getTables(null, "public", "%", new String[] {"VIEW"}), "TABLE_NAME")));
            fields.add("\"columns\":" + array(strings(
                meta.getColumns(null, "public", "fact_sales", "%"), "COLUMN_NAME")));
            fields.add("\"primary_key\":" + array(strings(
                meta.getPrimaryKeys(null, "public", "dim_customer"), "COLUMN_NAME")));
            fields.add("\"comment\":" + strings(
                meta.getTables(null, "public", "dim_customer", new String[] {"TABLE"}), "REMARKS").get(0));

            try (PreparedStatement ps = conn.prepareStatement(TYPED)) {
                ps.setString(1, System.getenv("ACRM_ORDER"));
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData rsmd = rs.getMetaData();
                    List<String> types = new ArrayList<>();
                    for (int i = 1; i <= rsmd.getColumnCount(); i++) {
                        types.add(str(rsmd.getColumnTypeName(i)));
                    }
                    fields.add("\"types\":" + array(types));
                    List<String> rows = new ArrayList<>();
                    List<String> natives = new ArrayList<>();
                    while (rs.next()) {
                        BigDecimal price = rs.getBigDecimal(3);
                        BigDecimal revenue = rs.getBigDecimal(4);
                        LocalDate day = rs.getObject(6, LocalDate.class);
                        OffsetDateTime at = rs.getObject(7, OffsetDateTime.class);
                        rows.add(array(List.of(
                            str(rs.getString(1)),
                            Integer.toString(rs.getInt(2)),
                            str(price.toPlainString()),
                            str(revenue.toPlainString()),
                            Double.toString(rs.getDouble(5)),
                            str(day.toString()),
                            str(at.withOffsetSameInstant(ZoneOffset.UTC)
                                .format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'"))),
                            str(rs.getString(8)))));
                        if (natives.isEmpty()) {
                            for (int i = 1; i <= 8; i++) {
                                natives.add(str(rs.getObject(i).getClass().getSimpleName()));
                            }
                        }
                    }
                    fields.add("\"rows\":" + array(rows));
                    fields.add("\"native\":" + array(natives));
                }
            }

            conn.setAutoCommit(false);
            Savepoint before = conn.setSavepoint("before_mistake");
            boolean failed = false;
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT no_such_column FROM fact_sales");
            } catch (SQLException e) {
                failed = true;
            }
            conn.rollback(before);
            boolean again;
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM dim_channel")) {
                again = rs.next() && rs.getLong(1) > 0;
            }
            conn.commit();
            conn.setAutoCommit(true);
            fields.add("\"transaction\":" + (failed && again));

            try (PreparedStatement ps = conn.prepareStatement(MASKED)) {
                ps.setLong(1, Long.parseLong(System.getenv("ACRM_CUSTOMER")));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    fields.add("\"masked\":" + array(List.of(
                        str(rs.getString("name")), str(rs.getString("email")), str(rs.getString("phone")))));
                }
            }
        }
        System.out.println("{" + String.join(",", fields) + "}");
    }
}
