//! Locating `java` and the Apache ZooKeeper jars, and building `java -cp … Main` commands.
//!
//! Debian's `libzookeeper-java` (pulled in by the `zookeeper` package) installs
//! `/usr/share/java/zookeeper.jar`, whose manifest `Class-Path` names every runtime dependency (netty,
//! jute, slf4j-api, jackson, jetty, …) by absolute path, so the JVM finds them without listing them.
//! Debian's own `zkEnv.sh` uses just `/etc/zookeeper/conf:/usr/share/java/zookeeper.jar`. The manifest
//! names no slf4j binding, so we add `slf4j-log4j12.jar` and `log4j-1.2.jar` (both dependencies of the
//! package) to get a log file; without them the server would log nothing.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// Where Debian installs Java libraries, including the ZooKeeper jars.
pub const DEBIAN_JAVA_DIR: &str = "/usr/share/java";

/// A `lib/` directory some ZooKeeper packagings (e.g. Apache's binary tarball layout) use; every jar in it
/// is added to the class path when the directory exists.
pub const ZOOKEEPER_LIB_DIR: &str = "/usr/share/zookeeper/lib";

/// Jars that must exist under [`DEBIAN_JAVA_DIR`]: the server (whose manifest brings its dependencies)
/// and the jute records.
pub const REQUIRED_JARS: &[&str] = &["zookeeper.jar", "zookeeper-jute.jar"];

/// Jars added under [`DEBIAN_JAVA_DIR`] when present: an slf4j binding to log4j 1.2 so the server writes a
/// log file.
pub const LOGGING_JARS: &[&str] = &["slf4j-log4j12.jar", "log4j-1.2.jar"];

/// Set this to a `:`-separated class path to run another ZooKeeper build (e.g. an Apache 3.5 or 3.9
/// tarball's `lib/*`) instead of the Debian jars. It must include an slf4j binding if you want a log file.
pub const CLASSPATH_ENV: &str = "ZK_APACHE_CLASSPATH";

/// JVM flags for short-lived test servers: a small serial-GC heap and the C1 compiler only, which start
/// faster and use less memory on a 2-core CI machine than the defaults; no `hsperfdata` files in /tmp.
pub const DEFAULT_JVM_ARGS: &[&str] = &[
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
];

/// A located `java` executable plus a class path that holds Apache ZooKeeper.
#[derive(Debug, Clone)]
pub struct Java {
    java: PathBuf,
    classpath: Vec<OsString>,
}

impl Java {
    /// Finds `java` (`$JAVA_HOME/bin/java`, else the first `java` on `$PATH`) and the ZooKeeper class path
    /// ([`CLASSPATH_ENV`] if set, else the Debian jars).
    ///
    /// Errors are [`Error::JavaNotFound`] or [`Error::JarNotFound`], both
    /// [`Error::is_unavailable`].
    pub fn locate() -> Result<Self, Error> {
        let java = find_java()?;
        let classpath = match env::var_os(CLASSPATH_ENV).filter(|v| !v.is_empty()) {
            Some(custom) => env::split_paths(&custom)
                .map(PathBuf::into_os_string)
                .collect(),
            None => debian_classpath()?,
        };
        Ok(Java { java, classpath })
    }

    /// The `java` executable.
    pub fn java(&self) -> &Path {
        &self.java
    }

    /// The class path entries (jars, directories, or `dir/*` wildcards).
    pub fn classpath(&self) -> &[OsString] {
        &self.classpath
    }

    /// Appends a class path entry (e.g. Curator's jars or a directory of compiled test classes).
    pub fn with_classpath_entry(mut self, entry: impl Into<OsString>) -> Self {
        self.classpath.push(entry.into());
        self
    }

    /// The class path as one `:`-joined string, for `-cp`.
    pub fn classpath_string(&self) -> OsString {
        let mut joined = OsString::new();
        for (i, entry) in self.classpath.iter().enumerate() {
            if i > 0 {
                joined.push(":");
            }
            joined.push(entry);
        }
        joined
    }

    /// `java <DEFAULT_JVM_ARGS> <jvm_args> -cp <classpath> <main_class>`; append the program's
    /// arguments and spawn it.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, jvm_args: &[S], main_class: &str) -> Command {
        let mut cmd = Command::new(&self.java);
        cmd.args(DEFAULT_JVM_ARGS)
            .args(jvm_args)
            .arg("-cp")
            .arg(self.classpath_string())
            .arg(main_class);
        cmd
    }
}

fn find_java() -> Result<PathBuf, Error> {
    if let Some(home) = env::var_os("JAVA_HOME").filter(|v| !v.is_empty()) {
        let java = Path::new(&home).join("bin").join("java");
        if java.is_file() {
            return Ok(java);
        }
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .map(|dir| dir.join("java"))
        .find(|java| java.is_file())
        .ok_or_else(|| {
            Error::JavaNotFound("no $JAVA_HOME/bin/java and no `java` on $PATH".to_owned())
        })
}

fn debian_classpath() -> Result<Vec<OsString>, Error> {
    let dir = Path::new(DEBIAN_JAVA_DIR);
    let mut classpath = Vec::new();
    for jar in REQUIRED_JARS {
        let path = dir.join(jar);
        if !path.is_file() {
            return Err(Error::JarNotFound(path));
        }
        classpath.push(path.into_os_string());
    }
    classpath.extend(
        LOGGING_JARS
            .iter()
            .map(|jar| dir.join(jar))
            .filter(|path| path.is_file())
            .map(PathBuf::into_os_string),
    );
    if Path::new(ZOOKEEPER_LIB_DIR).is_dir() {
        classpath.push(format!("{ZOOKEEPER_LIB_DIR}/*").into());
    }
    Ok(classpath)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classpath_string_joins_with_colons() {
        let java = Java {
            java: "/usr/bin/java".into(),
            classpath: vec!["/a.jar".into()],
        }
        .with_classpath_entry("/b/*");
        assert_eq!(java.classpath_string(), OsString::from("/a.jar:/b/*"));
        let cmd = java.command(&["-Dx=y"], "Main");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(
            args[args.len() - 4..],
            ["-Dx=y", "-cp", "/a.jar:/b/*", "Main"]
        );
    }
}
