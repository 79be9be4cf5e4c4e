//! One JSON object per result line, written by hand (flat objects of strings and numbers).

/// A flat JSON object under construction.
pub struct Json {
    out: String,
}

impl Json {
    /// Starts an object with a `"kind"` field.
    pub fn new(kind: &str) -> Json {
        let mut j = Json {
            out: String::from("{"),
        };
        j.str("kind", kind);
        j
    }

    /// Adds a string field.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Json {
        self.sep();
        let escaped: String = value
            .chars()
            .flat_map(|c| match c {
                '"' => vec!['\\', '"'],
                '\\' => vec!['\\', '\\'],
                c if c.is_control() => vec![' '],
                c => vec![c],
            })
            .collect();
        self.out.push_str(&format!("\"{key}\":\"{escaped}\""));
        self
    }

    /// Adds a number field (non-finite numbers become null).
    pub fn num(&mut self, key: &str, value: f64) -> &mut Json {
        self.sep();
        if value.is_finite() {
            let v = if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{}", value as i64)
            } else {
                format!("{value:.3}")
            };
            self.out.push_str(&format!("\"{key}\":{v}"));
        } else {
            self.out.push_str(&format!("\"{key}\":null"));
        }
        self
    }

    fn sep(&mut self) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
    }

    /// Closes the object.
    pub fn finish(&mut self) -> String {
        let mut s = std::mem::take(&mut self.out);
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn writes_flat_objects() {
        let mut j = Json::new("t");
        j.str("s", "a\"b")
            .num("n", 3.0)
            .num("f", 0.5)
            .num("x", f64::NAN);
        assert_eq!(
            j.finish(),
            r#"{"kind":"t","s":"a\"b","n":3,"f":0.500,"x":null}"#
        );
    }
}
