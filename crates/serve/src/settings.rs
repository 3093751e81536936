//! A session's run-time parameters, as a read-only PostgreSQL keeps them: what drivers set
//! on connect (in the startup message or with `SET`) is kept, shown by `SHOW` and restored
//! by `RESET` and `DISCARD ALL`; the server's own parameters are shown and cannot be
//! changed. Only values the server honours are accepted where a value changes what the
//! client receives (UTF-8 text, ISO dates); `statement_timeout` is kept by the session
//! itself ([`crate::session::Session::timeout`]).

use std::collections::BTreeMap;

/// Why a `SET` was not accepted: SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    pub code: &'static str,
    pub message: String,
}

/// A parameter a session may set: its name as PostgreSQL spells it, its default and
/// description.
struct Parameter {
    name: &'static str,
    default: &'static str,
    description: &'static str,
}

/// The parameters drivers and BI tools set (names as `SHOW ALL` spells them).
const SETTABLE: &[Parameter] = &[
    Parameter {
        name: "application_name",
        default: "",
        description: "Sets the application name to be reported in statistics and logs.",
    },
    Parameter {
        name: "bytea_output",
        default: "hex",
        description: "Sets the output format for bytea.",
    },
    Parameter {
        name: "client_encoding",
        default: "UTF8",
        description: "Sets the client's character set encoding (UTF8 only).",
    },
    Parameter {
        name: "client_min_messages",
        default: "notice",
        description: "Sets the message levels that are sent to the client.",
    },
    Parameter {
        name: "DateStyle",
        default: "ISO, MDY",
        description: "Sets the display format for date and time values (ISO only).",
    },
    Parameter {
        name: "default_transaction_isolation",
        default: "read committed",
        description: "Sets the transaction isolation level of each new transaction.",
    },
    Parameter {
        name: "default_transaction_read_only",
        default: "on",
        description: "Transactions are read-only (on only).",
    },
    Parameter {
        name: "extra_float_digits",
        default: "1",
        description: "Sets the number of digits displayed for floating-point values.",
    },
    Parameter {
        name: "idle_in_transaction_session_timeout",
        default: "0",
        description: "Sets the maximum allowed idle time between queries, when in a transaction.",
    },
    Parameter {
        name: "IntervalStyle",
        default: "postgres",
        description: "Sets the display format for interval values.",
    },
    Parameter {
        name: "lc_messages",
        default: "C",
        description: "Sets the language in which messages are displayed.",
    },
    Parameter {
        name: "lock_timeout",
        default: "0",
        description: "Sets the maximum allowed duration of any wait for a lock.",
    },
    Parameter {
        name: "search_path",
        default: "\"$user\", public",
        description: "Sets the schema search order for names that are not schema-qualified.",
    },
    Parameter {
        name: "standard_conforming_strings",
        default: "on",
        description: "Causes '...' strings to treat backslashes literally (on only).",
    },
    Parameter {
        name: "TimeZone",
        default: "UTC",
        description: "Sets the time zone for displaying and interpreting time stamps.",
    },
];

/// The server's own parameters: shown, never changed by a session.
const FIXED: &[(&str, &str)] = &[
    (
        "integer_datetimes",
        "Shows whether datetimes are integer based.",
    ),
    (
        "is_superuser",
        "Shows whether the current user is a superuser.",
    ),
    (
        "max_identifier_length",
        "Shows the maximum identifier length.",
    ),
    (
        "server_encoding",
        "Shows the server (database) character set encoding.",
    ),
    ("server_version", "Shows the server version."),
    (
        "server_version_num",
        "Shows the server version as an integer.",
    ),
    (
        "transaction_isolation",
        "Shows the current transaction's isolation level.",
    ),
    (
        "transaction_read_only",
        "Shows whether the current transaction is read-only.",
    ),
];

/// The `server_version` reported to clients: the PostgreSQL protocol level pgwire speaks,
/// and acrm's version.
pub(crate) fn server_version() -> String {
    format!("16.6 (acrm {})", env!("CARGO_PKG_VERSION"))
}

/// The value of fixed parameter `name` (lower case).
fn fixed_value(name: &str) -> Option<String> {
    Some(match name {
        "integer_datetimes" | "transaction_read_only" => "on".into(),
        "is_superuser" => "off".into(),
        "max_identifier_length" => "63".into(),
        "server_encoding" => "UTF8".into(),
        "server_version" => server_version(),
        "server_version_num" => "160006".into(),
        "transaction_isolation" => "read committed".into(),
        _ => return None,
    })
}

/// The settable parameter named `name` in any case.
fn settable(name: &str) -> Option<&'static Parameter> {
    SETTABLE.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The canonical form of `value` for parameter `p`, or why it is refused.
fn checked(p: &Parameter, value: &str) -> Result<String, Rejected> {
    let unsupported = |why: &str| Rejected {
        code: "0A000",
        message: format!("{} = '{value}' is not supported: {why}", p.name),
    };
    let lower = value.to_ascii_lowercase();
    match p.name {
        "client_encoding" => match lower.replace(['-', '_'], "").as_str() {
            "utf8" | "unicode" => Ok("UTF8".into()),
            _ => Err(unsupported("acrm serve sends UTF8 text only")),
        },
        "DateStyle" => {
            let parts: Vec<&str> = value.split(',').map(str::trim).collect();
            if !parts.iter().any(|x| x.eq_ignore_ascii_case("iso")) {
                return Err(unsupported("acrm serve writes dates in ISO style only"));
            }
            let order = parts
                .iter()
                .find(|x| !x.eq_ignore_ascii_case("iso"))
                .map_or("MDY".to_string(), |o| o.to_ascii_uppercase());
            Ok(format!("ISO, {order}"))
        }
        "default_transaction_read_only" | "standard_conforming_strings" => match lower.as_str() {
            "on" | "true" | "1" | "yes" => Ok("on".into()),
            _ => Err(unsupported(
                "the server is read-only and strings are standard",
            )),
        },
        "extra_float_digits" => match value.parse::<i32>() {
            Ok(n) if (-15..=3).contains(&n) => Ok(n.to_string()),
            _ => Err(Rejected {
                code: "22023",
                message: format!(
                    "invalid value for parameter \"extra_float_digits\": \"{value}\" (an integer from -15 to 3)"
                ),
            }),
        },
        _ => Ok(value.to_string()),
    }
}

/// The session's parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// Values set in the startup message: what `RESET` returns to.
    startup: BTreeMap<&'static str, String>,
    /// Values set since.
    current: BTreeMap<&'static str, String>,
}

impl Settings {
    /// The settings a connection starts with: defaults, then what its startup message
    /// names (keys as the driver spelled them; values the server cannot honour are left at
    /// their default).
    pub fn from_startup(parameters: &std::collections::HashMap<String, String>) -> Self {
        let mut startup = BTreeMap::new();
        for (key, value) in parameters {
            if let Some(p) = settable(key)
                && let Ok(v) = checked(p, value)
            {
                startup.insert(p.name, v);
            }
        }
        Self {
            current: startup.clone(),
            startup,
        }
    }

    /// `SET name = value`. Unknown names are refused as PostgreSQL refuses them; the
    /// server's own parameters cannot be changed.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Rejected> {
        let Some(p) = settable(name) else {
            return Err(unknown_or_fixed(name));
        };
        let value = checked(p, value)?;
        self.current.insert(p.name, value);
        Ok(())
    }

    /// `RESET name`, or `RESET ALL` when `name` is None.
    pub fn reset(&mut self, name: Option<&str>) -> Result<(), Rejected> {
        match name {
            None => self.current = self.startup.clone(),
            Some(name) => {
                let p = settable(name).ok_or_else(|| unknown_or_fixed(name))?;
                match self.startup.get(p.name) {
                    Some(v) => self.current.insert(p.name, v.clone()),
                    None => self.current.remove(p.name),
                };
            }
        }
        Ok(())
    }

    /// The value `SHOW name` prints (name in any case; `timeout` is the statement timeout
    /// in force, which the session keeps).
    pub fn show(&self, name: &str, timeout: std::time::Duration) -> Option<String> {
        let name = name.to_ascii_lowercase();
        if name == "statement_timeout" {
            return Some(format!("{}ms", timeout.as_millis()));
        }
        match settable(&name) {
            Some(p) => Some(
                self.current
                    .get(p.name)
                    .cloned()
                    .unwrap_or_else(|| p.default.to_string()),
            ),
            None => fixed_value(&name),
        }
    }

    /// Every parameter for `SHOW ALL`: name, value, description, sorted by name.
    pub fn all(&self, timeout: std::time::Duration) -> Vec<[String; 3]> {
        let mut rows: Vec<[String; 3]> = SETTABLE
            .iter()
            .map(|p| (p.name, p.description))
            .chain(FIXED.iter().copied())
            .chain([(
                "statement_timeout",
                "Sets the maximum allowed duration of any statement (SET may lower it).",
            )])
            .filter_map(|(name, description)| {
                Some([
                    name.to_string(),
                    self.show(name, timeout)?,
                    description.to_string(),
                ])
            })
            .collect();
        rows.sort_by_key(|r| r[0].to_ascii_lowercase());
        rows
    }
}

/// The refusal of `SET`/`RESET` of a name that is not settable.
fn unknown_or_fixed(name: &str) -> Rejected {
    let lower = name.to_ascii_lowercase();
    if fixed_value(&lower).is_some() {
        Rejected {
            code: "55P02",
            message: format!("parameter \"{lower}\" cannot be changed"),
        }
    } else {
        Rejected {
            code: "42704",
            message: format!("unrecognized configuration parameter \"{lower}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    const T: Duration = Duration::from_secs(300);

    #[test]
    fn startup_values_are_kept_and_reset_returns_to_them() {
        let startup = HashMap::from([
            ("application_name".to_string(), "DBeaver".to_string()),
            ("DateStyle".to_string(), "ISO".to_string()),
            ("client_encoding".to_string(), "LATIN1".to_string()),
            ("user".to_string(), "alice".to_string()),
        ]);
        let mut s = Settings::from_startup(&startup);
        assert_eq!(s.show("application_name", T).as_deref(), Some("DBeaver"));
        assert_eq!(s.show("datestyle", T).as_deref(), Some("ISO, MDY"));
        // A value the server cannot honour stays at the default.
        assert_eq!(s.show("client_encoding", T).as_deref(), Some("UTF8"));
        s.set("application_name", "pandas").expect("set");
        s.set("timezone", "Europe/Berlin").expect("set");
        assert_eq!(s.show("TimeZone", T).as_deref(), Some("Europe/Berlin"));
        s.reset(Some("application_name")).expect("reset");
        assert_eq!(s.show("application_name", T).as_deref(), Some("DBeaver"));
        s.reset(None).expect("reset all");
        assert_eq!(s.show("timezone", T).as_deref(), Some("UTC"));
        assert_eq!(s.show("statement_timeout", T).as_deref(), Some("300000ms"));
        assert_eq!(s.show("server_version_num", T).as_deref(), Some("160006"));
        assert_eq!(s.show("no_such_thing", T), None);
    }

    #[test]
    fn values_the_server_cannot_honour_and_unknown_names_are_refused() {
        let mut s = Settings::default();
        for (name, value, code) in [
            ("client_encoding", "LATIN1", "0A000"),
            ("DateStyle", "German", "0A000"),
            ("default_transaction_read_only", "off", "0A000"),
            ("extra_float_digits", "9", "22023"),
            ("server_version", "17", "55P02"),
            ("work_mem_typo", "1", "42704"),
        ] {
            let err = s.set(name, value).expect_err(name);
            assert_eq!(err.code, code, "{name}: {}", err.message);
        }
        s.set("client_encoding", "utf-8").expect("utf-8");
        s.set("DateStyle", "ISO, DMY").expect("iso");
        assert_eq!(s.show("datestyle", T).as_deref(), Some("ISO, DMY"));
        assert_eq!(
            s.reset(Some("server_version")).expect_err("fixed").code,
            "55P02"
        );
    }

    #[test]
    fn show_all_lists_every_parameter_once() {
        let rows = Settings::default().all(T);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names.len(), SETTABLE.len() + FIXED.len() + 1);
        assert!(names.contains(&"DateStyle") && names.contains(&"server_version"));
        assert!(rows.iter().all(|r| !r[2].is_empty()));
    }
}
