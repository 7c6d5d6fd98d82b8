//! Failures and the exit codes they map to (one place, documented in the crate docs).

use std::fmt;

use msrpc_proto::dispatch::CallError;
use msrpc_rt::ConnectError;
use serde_json::json;

/// The process exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: bad arguments.
    Usage,
    /// 2: cannot resolve or connect, or the connection failed.
    Connect,
    /// 3: the server refused (fault, bind rejected, error status).
    Refused,
    /// 4: nothing found.
    NotFound,
    /// 5: `msrpc audit` found findings at or above `--fail-on`.
    Findings,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Usage => 1,
            Exit::Connect => 2,
            Exit::Refused => 3,
            Exit::NotFound => 4,
            Exit::Findings => 5,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Exit::Usage => "usage",
            Exit::Connect => "connect",
            Exit::Refused => "refused",
            Exit::NotFound => "not_found",
            Exit::Findings => "findings",
        }
    }
}

/// A failed command: what to say and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong.
    pub error: anyhow::Error,
    /// The command already printed its JSON document (which tells the story): print no
    /// error document.
    pub json_printed: bool,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl Failure {
    /// A failure with `exit` and `error`.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            exit,
            error: error.into(),
            json_printed: false,
        }
    }

    /// Exit 1.
    pub fn usage(msg: impl fmt::Display) -> Self {
        Self::new(Exit::Usage, anyhow::anyhow!("{msg}"))
    }

    /// Exit 2.
    pub fn connect(msg: impl fmt::Display) -> Self {
        Self::new(Exit::Connect, anyhow::anyhow!("{msg}"))
    }

    /// Exit 3.
    pub fn refused(msg: impl fmt::Display) -> Self {
        Self::new(Exit::Refused, anyhow::anyhow!("{msg}"))
    }

    /// Exit 4.
    pub fn not_found(msg: impl fmt::Display) -> Self {
        Self::new(Exit::NotFound, anyhow::anyhow!("{msg}"))
    }

    /// A failed call of `what`.
    pub fn call(what: &str, e: CallError) -> Self {
        let exit = call_exit(&e);
        Self::new(exit, anyhow::anyhow!("{what}: {}", describe_call_error(&e)))
    }

    /// A failed connection.
    pub fn connecting(e: ConnectError) -> Self {
        let exit = match &e {
            ConnectError::Epm(c) => call_exit(c),
            _ => Exit::Connect,
        };
        Self::new(exit, e)
    }

    /// Marks the JSON document as printed already.
    pub fn json_printed(mut self) -> Self {
        self.json_printed = true;
        self
    }

    /// Prints the failure: text on stderr, and with `json` a JSON document on stdout.
    pub fn report(&self, json: bool) {
        errln!("msrpc: {self}");
        if json && !self.json_printed {
            let doc = json!({
                "error": {
                    "exit_code": self.exit.code(),
                    "kind": self.exit.kind(),
                    "message": self.to_string(),
                }
            });
            outln!("{doc}");
        }
    }
}

/// The exit code for a failed call.
pub fn call_exit(e: &CallError) -> Exit {
    match e {
        CallError::Transport(_) | CallError::Timeout => Exit::Connect,
        CallError::Encode(_) => Exit::Usage,
        _ => Exit::Refused,
    }
}

/// A call error with the fault's name and number.
pub fn describe_call_error(e: &CallError) -> String {
    match e {
        CallError::Fault(s) => match s.name() {
            Some(_) => format!("fault {s} ({:#010x})", s.0),
            None => format!("fault {:#010x}", s.0),
        },
        other => other.to_string(),
    }
}

/// The name of an `error_status_t` the EPM and mgmt interfaces return, when known.
pub fn status_name(status: u32) -> Option<&'static str> {
    use msrpc_epm::status::*;
    Some(match status {
        RPC_S_OK => "rpc_s_ok",
        EPT_S_CANT_PERFORM_OP => "ept_s_cant_perform_op",
        EPT_S_NO_MEMORY => "ept_s_no_memory",
        EPT_S_DATABASE_INVALID => "ept_s_database_invalid",
        EPT_S_CANT_CREATE => "ept_s_cant_create",
        EPT_S_CANT_ACCESS => "ept_s_cant_access",
        EPT_S_DATABASE_ALREADY_OPEN => "ept_s_database_already_open",
        EPT_S_INVALID_ENTRY => "ept_s_invalid_entry",
        EPT_S_UPDATE_FAILED => "ept_s_update_failed",
        EPT_S_INVALID_CONTEXT => "ept_s_invalid_context",
        EPT_S_NOT_REGISTERED => "ept_s_not_registered",
        EPT_S_SERVER_UNAVAILABLE => "ept_s_server_unavailable",
        RPC_S_ACCESS_DENIED => "access_denied",
        EPT_S_CANT_PERFORM_OP_MS => "EPT_S_CANT_PERFORM_OP",
        RPC_S_INVALID_INQUIRY_TYPE => "rpc_s_invalid_inquiry_type",
        RPC_S_INVALID_VERS_OPTION => "rpc_s_invalid_vers_option",
        RPC_S_UNKNOWN_AUTHN_SERVICE => "RPC_S_UNKNOWN_AUTHN_SERVICE",
        _ => return None,
    })
}

/// `0x16c9a0d6 (ept_s_not_registered)`.
pub fn status_text(status: u32) -> String {
    match status_name(status) {
        Some(n) => format!("{status:#010x} ({n})"),
        None => format!("{status:#010x}"),
    }
}
