//! `msrpc users`: manage the NTLM user file `msrpcd --users` reads (`name:domain:NT-hash`
//! lines; only NT hashes are stored, never passwords).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use msrpc_ntlm::{FileUserStore, StoreError};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::fail::{Exit, Failure};
use crate::output::print_json;
use crate::Global;

/// The `users` subcommands.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Add a user or change its password. The password is read from stdin when stdin is not
    /// a terminal (one line), otherwise prompted for twice without echo. Creates FILE
    /// (mode 0600) when missing.
    Add(AddArgs),
    /// Remove a user (in every domain).
    Del(DelArgs),
    /// List the users (names and domains, never hashes).
    List(ListArgs),
}

/// `users add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The user file.
    pub file: PathBuf,
    /// The user name (case-insensitive when authenticating).
    pub user: String,
    /// The domain the account is for; empty (the default) accepts any domain.
    #[arg(long, default_value = "", value_name = "DOMAIN")]
    pub domain: String,
}

/// `users del`.
#[derive(Args, Debug)]
pub struct DelArgs {
    /// The user file.
    pub file: PathBuf,
    /// The user name.
    pub user: String,
}

/// `users list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// The user file.
    pub file: PathBuf,
}

/// A user as `users list --json` shows it.
#[derive(Serialize)]
struct UserJson {
    name: String,
    /// Empty: any domain.
    domain: String,
}

fn store_failure(e: StoreError) -> Failure {
    Failure::new(Exit::Usage, e)
}

/// Runs a `users` subcommand.
pub fn run(g: &Global, cmd: UsersCommand) -> Result<(), Failure> {
    match cmd {
        UsersCommand::Add(a) => add(g, a),
        UsersCommand::Del(a) => del(g, a),
        UsersCommand::List(a) => list(g, a),
    }
}

fn add(g: &Global, a: AddArgs) -> Result<(), Failure> {
    let mut store = FileUserStore::load_or_new(&a.file).map_err(store_failure)?;
    let password = read_password()?;
    let added = store
        .add(&a.user, &a.domain, &password)
        .map_err(store_failure)?;
    store.save().map_err(store_failure)?;
    let action = if added { "added" } else { "updated" };
    if g.json {
        print_json(&serde_json::json!({
            "action": action,
            "user": a.user,
            "domain": a.domain,
            "file": a.file.display().to_string(),
        }))?;
    } else {
        outln!("{action} user {} in {}", a.user, a.file.display());
    }
    Ok(())
}

fn del(g: &Global, a: DelArgs) -> Result<(), Failure> {
    let mut store = FileUserStore::load(&a.file).map_err(store_failure)?;
    let removed = store.remove(&a.user);
    if removed == 0 {
        return Err(Failure::not_found(format!(
            "no user `{}` in {}",
            a.user,
            a.file.display()
        )));
    }
    store.save().map_err(store_failure)?;
    if g.json {
        print_json(&serde_json::json!({
            "action": "deleted",
            "user": a.user,
            "entries": removed,
            "file": a.file.display().to_string(),
        }))?;
    } else {
        outln!("deleted user {} from {}", a.user, a.file.display());
    }
    Ok(())
}

fn list(g: &Global, a: ListArgs) -> Result<(), Failure> {
    let store = FileUserStore::load(&a.file).map_err(store_failure)?;
    let users: Vec<UserJson> = store
        .accounts()
        .into_iter()
        .map(|(name, domain)| UserJson { name, domain })
        .collect();
    if g.json {
        print_json(&serde_json::json!({ "count": users.len(), "users": users }))?;
    } else {
        for u in &users {
            if u.domain.is_empty() {
                outln!("{}", u.name);
            } else {
                outln!("{}\\{}", u.domain, u.name);
            }
        }
    }
    Ok(())
}

/// The password: one line of stdin when it is not a terminal, otherwise prompted for twice
/// with echo off.
fn read_password() -> Result<Zeroizing<String>, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = Zeroizing::new(String::new());
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the password from stdin: {e}")))?;
        let password = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
        if password.is_empty() {
            return Err(Failure::usage("no password on stdin"));
        }
        return Ok(password);
    }
    let first = prompt("Password: ")?;
    if first.is_empty() {
        return Err(Failure::usage("the password is empty"));
    }
    let second = prompt("Retype password: ")?;
    if *first != *second {
        return Err(Failure::usage("the passwords do not match"));
    }
    Ok(first)
}

/// Prints `text` on stderr and reads a line from the terminal on stdin without echo.
fn prompt(text: &str) -> Result<Zeroizing<String>, Failure> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let fail = |e: std::io::Error| Failure::usage(format!("cannot read the password: {e}"));
    let stdin = std::io::stdin();
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
    let saved = tcgetattr(&stdin).map_err(|e| fail(e.into()))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&stdin, OptionalActions::Flush, &quiet).map_err(|e| fail(e.into()))?;
    let mut line = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut line);
    let restored = tcsetattr(&stdin, OptionalActions::Now, &saved);
    read.map_err(fail)?;
    restored.map_err(|e| fail(e.into()))?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}
