//! A fluent helper for running the `netscript` binary, after casey/just's `Test`.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

pub struct Test {
    args: Vec<String>,
    stdin: Option<String>,
    env: Vec<(String, String)>,
    files: Vec<(String, String)>,
    dir: tempdir::Dir,
    expected_status: i32,
    expected_stdout: Option<String>,
    expected_stderr: Option<String>,
    stderr_contains: Vec<String>,
    stdout_contains: Vec<String>,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!("netscript-test-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::SeqCst)));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Test {
    pub fn new() -> Self {
        Test {
            args: Vec::new(),
            stdin: None,
            env: vec![("NO_COLOR".into(), "1".into())],
            files: Vec::new(),
            dir: tempdir::Dir::new(),
            expected_status: 0,
            expected_stdout: None,
            expected_stderr: None,
            stderr_contains: Vec::new(),
            stdout_contains: Vec::new(),
        }
    }
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_string());
        self
    }
    /// Writes a file into the test's working directory.
    pub fn file(mut self, name: &str, text: &str) -> Self {
        self.files.push((name.into(), text.into()));
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    pub fn status(mut self, code: i32) -> Self {
        self.expected_status = code;
        self
    }
    pub fn stdout(mut self, text: &str) -> Self {
        self.expected_stdout = Some(text.to_string());
        self
    }
    pub fn stderr(mut self, text: &str) -> Self {
        self.expected_stderr = Some(text.to_string());
        self
    }
    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.stderr_contains.push(text.to_string());
        self
    }
    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.stdout_contains.push(text.to_string());
        self
    }
    pub fn run(self) -> (String, String) {
        for (name, text) in &self.files {
            let path = self.dir.0.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_netscript"));
        command.args(&self.args).current_dir(&self.dir.0).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.env_remove("NO_COLOR");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("netscript runs");
        let stdin_text = self.stdin.clone().unwrap_or_default();
        child.stdin.take().unwrap().write_all(stdin_text.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let context = format!("args: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", self.args);
        assert_eq!(output.status.code(), Some(self.expected_status), "unexpected exit status\n{context}");
        if let Some(expected) = &self.expected_stdout {
            assert_eq!(&stdout, expected, "stdout differs\n{context}");
        }
        if let Some(expected) = &self.expected_stderr {
            assert_eq!(&stderr, expected, "stderr differs\n{context}");
        }
        for needle in &self.stderr_contains {
            assert!(stderr.contains(needle.as_str()), "stderr lacks {needle:?}\n{context}");
        }
        for needle in &self.stdout_contains {
            assert!(stdout.contains(needle.as_str()), "stdout lacks {needle:?}\n{context}");
        }
        (stdout, stderr)
    }
}
