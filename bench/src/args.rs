//! A tiny `--key value` parser; everything after `--` is kept verbatim (the startup command).

use std::collections::HashMap;
use std::str::FromStr;

use crate::error::BenchError;

/// Parsed options.
pub struct Args {
    opts: HashMap<String, String>,
    /// Words after `--`.
    pub trailing: Vec<String>,
}

impl Args {
    /// Parses `--key value` pairs.
    pub fn parse(argv: &[String]) -> Result<Args, BenchError> {
        let mut opts = HashMap::new();
        let mut it = argv.iter();
        let mut trailing = Vec::new();
        while let Some(a) = it.next() {
            if a == "--" {
                trailing = it.cloned().collect();
                break;
            }
            let Some(key) = a.strip_prefix("--") else {
                return Err(BenchError::Usage(format!("unexpected argument {a:?}")));
            };
            let value = it
                .next()
                .ok_or_else(|| BenchError::Usage(format!("--{key} needs a value")))?;
            opts.insert(key.to_string(), value.clone());
        }
        Ok(Args { opts, trailing })
    }

    /// A string option.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.opts.get(key).map(String::as_str)
    }

    /// A required string option.
    pub fn req(&self, key: &str) -> Result<&str, BenchError> {
        self.get(key)
            .ok_or_else(|| BenchError::Usage(format!("--{key} is required")))
    }

    /// A parsed option with a default.
    pub fn num<T: FromStr>(&self, key: &str, default: T) -> Result<T, BenchError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| BenchError::Usage(format!("--{key}: cannot parse {v:?}"))),
        }
    }
}
