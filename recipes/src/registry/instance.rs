//! [`ServiceInstance`]: one registered instance of a service, in Curator's JSON layout.
//!
//! The node `base/<name>/<id>` holds exactly what curator-x-discovery's `JsonInstanceSerializer`
//! writes for a `ServiceInstance` (Curator 5.4, Jackson 2):
//!
//! ```json
//! {"name":"echo","id":"3f2a…","address":"10.0.0.1","port":8080,"sslPort":null,
//!  "payload":{"@class":"java.util.LinkedHashMap","weight":3,"metadata":{"zone":"a"}},
//!  "registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":null,"enabled":true}
//! ```
//!
//! Curator has no weight or metadata fields, so we carry them in the payload, as a JSON object
//! tagged with the Java class Jackson should build for it (`@class`, because Curator annotates the
//! payload with `@JsonTypeInfo(use = CLASS)`). A `LinkedHashMap` needs no class of ours on the Java
//! side: a Curator `ServiceDiscovery<Object>` or `<Map>` reads our instances, and we read theirs
//! (any payload shape; weight and metadata are taken from it when present).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The weight of an instance whose payload names none: every instance counts the same.
pub const DEFAULT_WEIGHT: u32 = 1;

/// The Java class our payload asks Jackson to build (`java.util.LinkedHashMap`): it is on every
/// classpath, so Java consumers need nothing of ours to read a Rust instance.
pub const JAVA_MAP_CLASS: &str = "java.util.LinkedHashMap";

/// The key of the Jackson type id in a payload object (`@JsonTypeInfo(use = Id.CLASS)`).
pub const JACKSON_CLASS_KEY: &str = "@class";

/// Payload key of the instance's weight (a positive integer; 0 takes it out of weighted picks).
pub const WEIGHT_KEY: &str = "weight";

/// Payload key of the instance's metadata (an object of strings).
pub const METADATA_KEY: &str = "metadata";

/// How an instance's node is created, as Curator's `ServiceType` (serialized by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceType {
    /// An ephemeral node: gone when the registering session ends. The default.
    #[default]
    Dynamic,
    /// A persistent node that stays until unregistered.
    Static,
    /// A persistent node meant never to be removed.
    Permanent,
    /// An ephemeral-sequential node (Curator appends a sequence number to the id).
    DynamicSequential,
}

/// One part of a [`UriSpec`]: literal text, or a `{variable}` to substitute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UriSpecPart {
    /// The literal text, or the variable's name.
    pub value: String,
    /// Whether `value` names a variable.
    pub variable: bool,
}

/// A URI template such as `{scheme}://{address}:{port}/x`, stored as Curator stores it: a list of
/// parts (`{"parts":[{"value":"scheme","variable":true},…]}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct UriSpec {
    /// The template's parts, in order.
    pub parts: Vec<UriSpecPart>,
}

impl UriSpec {
    /// Parses a template: text in braces is a variable, everything else literal.
    ///
    /// ```
    /// let spec = zk_recipes::registry::UriSpec::parse("{scheme}://x:{port}");
    /// assert_eq!(spec.parts.len(), 3);
    /// assert!(spec.parts[0].variable && !spec.parts[1].variable);
    /// ```
    pub fn parse(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match (rest.find('{'), rest.find('}')) {
                (Some(0), Some(end)) => {
                    parts.push(UriSpecPart {
                        value: rest[1..end].to_owned(),
                        variable: true,
                    });
                    rest = &rest[end + 1..];
                }
                (Some(start), _) if start > 0 => {
                    parts.push(UriSpecPart {
                        value: rest[..start].to_owned(),
                        variable: false,
                    });
                    rest = &rest[start..];
                }
                _ => {
                    parts.push(UriSpecPart {
                        value: rest.to_owned(),
                        variable: false,
                    });
                    rest = "";
                }
            }
        }
        UriSpec { parts }
    }
}

/// One instance of a service: where it listens and what it says about itself.
///
/// Field for field the JSON of Curator's `ServiceInstance`, so Rust and Java (Curator) processes
/// discover each other. Build one with [`ServiceInstance::builder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInstance {
    /// The service's name: the instances of one service live under `base/<name>/`.
    pub name: String,
    /// This instance's id, unique within the service: its node's name.
    pub id: String,
    /// Host name or IP address.
    #[serde(default)]
    pub address: Option<String>,
    /// Plain port.
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS port.
    #[serde(default)]
    pub ssl_port: Option<u16>,
    /// Application data; for instances we build, an object with `@class`, `weight` and `metadata`.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Milliseconds since the Unix epoch when the instance was built.
    #[serde(rename = "registrationTimeUTC", default)]
    pub registration_time_utc: i64,
    /// How the node is created.
    #[serde(default)]
    pub service_type: ServiceType,
    /// A URI template, if the service publishes one.
    #[serde(default)]
    pub uri_spec: Option<UriSpec>,
    /// Whether consumers may pick it (Curator's `enabled`, default true; Curator 5.4 does not
    /// write it, so a missing field means enabled).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl ServiceInstance {
    /// A builder for an instance of `name` with a fresh UUID id, registered now, enabled, dynamic
    /// (ephemeral), weight [`DEFAULT_WEIGHT`].
    pub fn builder(name: impl Into<String>) -> ServiceInstanceBuilder {
        ServiceInstanceBuilder {
            instance: ServiceInstance {
                name: name.into(),
                id: uuid::Uuid::new_v4().to_string(),
                address: None,
                port: None,
                ssl_port: None,
                payload: None,
                registration_time_utc: now_millis(),
                service_type: ServiceType::Dynamic,
                uri_spec: None,
                enabled: true,
            },
            weight: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The instance's weight: the payload's `weight` if it is a non-negative integer (or a string
    /// holding one, as Java maps of strings carry it), else [`DEFAULT_WEIGHT`].
    pub fn weight(&self) -> u32 {
        let Some(w) = self.payload.as_ref().and_then(|p| p.get(WEIGHT_KEY)) else {
            return DEFAULT_WEIGHT;
        };
        let parsed = match w {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .map(|w| w.min(u64::from(u32::MAX)) as u32)
            .unwrap_or(DEFAULT_WEIGHT)
    }

    /// The payload's `metadata` entries whose values are strings (others are skipped).
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.payload
            .as_ref()
            .and_then(|p| p.get(METADATA_KEY))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `address:port`, if both are known.
    pub fn socket_addr_string(&self) -> Option<String> {
        Some(format!("{}:{}", self.address.as_deref()?, self.port?))
    }

    /// The JSON Curator's `JsonInstanceSerializer` reads.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and JSON values always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses an instance as Curator's `JsonInstanceSerializer` writes it (unknown fields are
    /// ignored, as Curator ignores them).
    pub fn from_json(bytes: &[u8]) -> Result<Self, crate::Error> {
        serde_json::from_slice(bytes).map_err(|e| crate::Error::Serialization(e.to_string()))
    }
}

/// Builds a [`ServiceInstance`]; start with [`ServiceInstance::builder`].
///
/// ```
/// use zk_recipes::registry::ServiceInstance;
/// let instance = ServiceInstance::builder("echo")
///     .address("127.0.0.1")
///     .port(7000)
///     .weight(3)
///     .metadata("zone", "eu-1")
///     .build();
/// assert_eq!((instance.weight(), instance.metadata()["zone"].as_str()), (3, "eu-1"));
/// assert_eq!(instance.socket_addr_string().as_deref(), Some("127.0.0.1:7000"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ServiceInstanceBuilder {
    instance: ServiceInstance,
    weight: Option<u32>,
    metadata: BTreeMap<String, String>,
}

impl ServiceInstanceBuilder {
    /// Sets the id (default: a random UUID). It must be unique within the service and a valid
    /// node name.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.instance.id = id.into();
        self
    }

    /// Sets the address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.instance.address = Some(address.into());
        self
    }

    /// Sets the port.
    pub fn port(mut self, port: u16) -> Self {
        self.instance.port = Some(port);
        self
    }

    /// Sets the TLS port.
    pub fn ssl_port(mut self, port: u16) -> Self {
        self.instance.ssl_port = Some(port);
        self
    }

    /// Sets the weight used by [`Strategy::Weighted`](super::Strategy::Weighted).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Replaces the whole payload with `payload` (e.g. an object with the `@class` of a Java type
    /// your Curator consumers know); weight and metadata set on this builder are added to it if
    /// it is an object.
    pub fn payload(mut self, payload: Value) -> Self {
        self.instance.payload = Some(payload);
        self
    }

    /// Sets the service type (default [`ServiceType::Dynamic`]).
    pub fn service_type(mut self, service_type: ServiceType) -> Self {
        self.instance.service_type = service_type;
        self
    }

    /// Sets the URI template.
    pub fn uri_spec(mut self, template: &str) -> Self {
        self.instance.uri_spec = Some(UriSpec::parse(template));
        self
    }

    /// Sets whether consumers may pick the instance.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.instance.enabled = enabled;
        self
    }

    /// The instance.
    pub fn build(mut self) -> ServiceInstance {
        if self.weight.is_some() || !self.metadata.is_empty() || self.instance.payload.is_none() {
            let mut payload = match self.instance.payload.take() {
                Some(Value::Object(map)) => map,
                Some(other) => {
                    // A non-object payload cannot carry our keys; keep it as the caller set it.
                    self.instance.payload = Some(other);
                    return self.instance;
                }
                None => {
                    let mut map = Map::new();
                    map.insert(JACKSON_CLASS_KEY.into(), JAVA_MAP_CLASS.into());
                    map
                }
            };
            payload.insert(
                WEIGHT_KEY.into(),
                self.weight.unwrap_or(DEFAULT_WEIGHT).into(),
            );
            let metadata: Map<String, Value> = self
                .metadata
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            payload.insert(METADATA_KEY.into(), Value::Object(metadata));
            self.instance.payload = Some(Value::Object(payload));
        }
        self.instance
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Curator 5.4's `JsonInstanceSerializer<Object>` (Debian libcurator-discovery-java)
    /// for a `LinkedHashMap` payload and a URI spec.
    const CURATOR_WITH_PAYLOAD: &str = r#"{"name":"echo","id":"id-1","address":"10.0.0.1","port":8080,"sslPort":null,"payload":{"@class":"java.util.LinkedHashMap","weight":3,"metadata":{"zone":"a"}},"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://foo.com:","variable":false},{"value":"port","variable":true}]}}"#;

    /// The same serializer, no payload and no URI spec.
    const CURATOR_PLAIN: &str = r#"{"name":"echo","id":"id-2","address":"10.0.0.2","port":8081,"sslPort":null,"payload":null,"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":null}"#;

    #[test]
    fn reads_what_curator_writes() {
        let i = ServiceInstance::from_json(CURATOR_WITH_PAYLOAD.as_bytes()).unwrap();
        assert_eq!((i.name.as_str(), i.id.as_str()), ("echo", "id-1"));
        assert_eq!(i.socket_addr_string().as_deref(), Some("10.0.0.1:8080"));
        assert_eq!((i.weight(), i.metadata()["zone"].as_str()), (3, "a"));
        assert_eq!(
            i.uri_spec,
            Some(UriSpec::parse("{scheme}://foo.com:{port}"))
        );
        assert!(
            i.enabled,
            "Curator 5.4 omits `enabled`; absent means enabled"
        );
        assert_eq!(i.registration_time_utc, 1_700_000_000_000);

        let plain = ServiceInstance::from_json(CURATOR_PLAIN.as_bytes()).unwrap();
        assert_eq!(
            (plain.weight(), plain.payload.clone()),
            (DEFAULT_WEIGHT, None)
        );
        assert_eq!(plain.service_type, ServiceType::Dynamic);
    }

    #[test]
    fn writes_what_curator_reads() {
        // Same fields as CURATOR_WITH_PAYLOAD: our JSON must equal Curator's, field for field,
        // plus `enabled` (which Curator 5.4 reads and ignores when absent).
        let ours = ServiceInstance::builder("echo")
            .id("id-1")
            .address("10.0.0.1")
            .port(8080)
            .weight(3)
            .metadata("zone", "a")
            .uri_spec("{scheme}://foo.com:{port}")
            .build();
        let ours = ServiceInstance {
            registration_time_utc: 1_700_000_000_000,
            ..ours
        };
        let mut expected: Value = serde_json::from_str(CURATOR_WITH_PAYLOAD).unwrap();
        expected["enabled"] = Value::Bool(true);
        let written: Value = serde_json::from_slice(&ours.to_json()).unwrap();
        assert_eq!(written, expected);
    }

    #[test]
    fn weight_parsing_table() {
        let with = |payload: Value| ServiceInstance {
            payload: Some(payload),
            ..ServiceInstance::builder("s").build()
        };
        let cases = [
            (serde_json::json!({"weight": 5}), 5),
            (serde_json::json!({"weight": "7"}), 7),
            (serde_json::json!({"weight": 0}), 0),
            (serde_json::json!({"weight": -1}), DEFAULT_WEIGHT),
            (serde_json::json!({"weight": "x"}), DEFAULT_WEIGHT),
            (serde_json::json!({}), DEFAULT_WEIGHT),
            (serde_json::json!("opaque"), DEFAULT_WEIGHT),
        ];
        for (payload, weight) in cases {
            assert_eq!(with(payload.clone()).weight(), weight, "{payload}");
        }
    }

    #[test]
    fn uri_spec_parse_table() {
        let p = |v: &str, variable| UriSpecPart {
            value: v.into(),
            variable,
        };
        let cases = [
            ("", vec![]),
            ("plain", vec![p("plain", false)]),
            ("{a}", vec![p("a", true)]),
            ("x{a}y", vec![p("x", false), p("a", true), p("y", false)]),
            ("{a}{b}", vec![p("a", true), p("b", true)]),
        ];
        for (template, parts) in cases {
            assert_eq!(UriSpec::parse(template).parts, parts, "{template}");
        }
    }
}
