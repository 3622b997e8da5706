//! Scoped tokens made as a user makes them: `remotecam token` on the hub's data
//! directory and ports.

use super::Hub;

/// A token made by `remotecam token add`, as it printed it.
pub struct Made {
    pub id: String,
    pub token: String,
    /// The share link's path and query.
    pub link: String,
}

impl Hub {
    /// `remotecam token ...` on the hub's data directory and ports; its output.
    pub fn token_cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_remotecam"))
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.http.port().to_string(),
            ])
            .args(["--https-port", &self.https.port().to_string(), "--data-dir"])
            .arg(self.dir.path())
            .arg("token")
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "token {args:?}: {stdout}{stderr}");
        stdout
    }

    pub fn add_token(&self, args: &[&str]) -> Made {
        let out = self.token_cli(&[&["add"], args].concat());
        let lines: Vec<&str> = out.lines().collect();
        let first = lines[0]
            .strip_prefix("Token ")
            .expect("the token's id first");
        let id = first.split_whitespace().next().unwrap().to_owned();
        let token = lines[1].trim().to_owned();
        let link = lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(&format!("http://{}", self.http)))
            .expect("a share link to the hub")
            .to_owned();
        assert!(link.ends_with(&format!("token={token}")), "{out}");
        Made { id, token, link }
    }
}
