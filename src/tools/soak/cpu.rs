//! The CPU the server and the desks' own process spend while the desks run, read from
//! `/proc`: what an operation costs, beside how long it takes. The server's figure exists only
//! when it runs on this machine (the embedded cluster, or a local one).

use std::time::Duration;

/// `/proc` counts CPU time in USER_HZ ticks, 100 a second on every Linux architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// What `/proc/PID/stat` says of a process: its parent, and its CPU ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    parent: u32,
    /// User and system time of the process itself.
    own: u64,
    /// User and system time of the children it waited for (a server's ended backends).
    reaped: u64,
}

/// Parses a `/proc/PID/stat` line. The command name, in parentheses, may itself hold spaces
/// and parentheses: the fields are counted from the last `)`.
fn parse_stat(line: &str) -> Option<ProcStat> {
    let after_name = line.get(line.rfind(')')? + 1..)?;
    // Fields 3 (state) onwards: parent is field 4, utime … cstime fields 14 to 17.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let tick = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(ProcStat {
        parent: fields.get(1)?.parse().ok()?,
        own: tick(14)? + tick(15)?,
        reaped: tick(16)? + tick(17)?,
    })
}

fn read_stat(pid: &str) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The server's postmaster, found from one of its backends (`pg_backend_pid()`): its parent,
/// when that is a PostgreSQL process of this machine.
pub fn postmaster_of(backend_pid: i32) -> Option<u32> {
    let is_postgres = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|name| name.trim_end().starts_with("postgres"))
    };
    let backend = u32::try_from(backend_pid).ok()?;
    let parent = read_stat(&backend.to_string())?.parent;
    (is_postgres(backend) && is_postgres(parent)).then_some(parent)
}

/// The server's ticks so far: the postmaster with every child it reaped, and its live children.
fn server_ticks(postmaster: u32) -> Option<u64> {
    let main = read_stat(&postmaster.to_string())?;
    let children: u64 = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))?;
            read_stat(pid).filter(|stat| stat.parent == postmaster)
        })
        .map(|stat| stat.own)
        .sum();
    Some(main.own + main.reaped + children)
}

/// CPU ticks at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    server: Option<u64>,
    desks: Option<u64>,
}

impl Sample {
    pub fn now(postmaster: Option<u32>) -> Self {
        Sample {
            server: postmaster.and_then(server_ticks),
            desks: read_stat("self").map(|stat| stat.own),
        }
    }
}

/// CPU spent between two samples, in seconds of one core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spent {
    pub server: Option<f64>,
    pub desks: Option<f64>,
}

impl Spent {
    pub fn between(before: Sample, after: Sample) -> Self {
        let seconds = |before: Option<u64>, after: Option<u64>| {
            Some(after?.saturating_sub(before?) as f64 / TICKS_PER_SECOND)
        };
        Spent {
            server: seconds(before.server, after.server),
            desks: seconds(before.desks, after.desks),
        }
    }

    /// One line: each side's cores busy on average over `elapsed` and its CPU milliseconds per
    /// operation done, of the machine's `cores`.
    pub fn line(&self, elapsed: Duration, done: u64, cores: usize) -> String {
        let side = |name: &str, spent: Option<f64>| match spent {
            Some(seconds) => format!(
                "{name} {:.2} cores, {:.2} ms an operation",
                seconds / elapsed.as_secs_f64().max(f64::EPSILON),
                seconds * 1000.0 / done.max(1) as f64
            ),
            None => format!("{name} not measured (not on this machine)"),
        };
        format!(
            "CPU while the desks ran, of {cores} cores: {}; {}",
            side("the server", self.server),
            side("the desks' process", self.desks)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_from_its_last_parenthesis() {
        let line = "4242 (postgres: a (b) c) S 17 4242 4242 0 -1 4194560 10 0 0 0 \
                    250 75 30 12 20 0 1 0 100 1000 10 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                parent: 17,
                own: 325,
                reaped: 42
            })
        );
        assert_eq!(parse_stat("4242 (cut short) S 17"), None);
    }

    #[test]
    fn the_line_says_cores_and_milliseconds_an_operation() {
        let spent = Spent::between(
            Sample {
                server: Some(1_000),
                desks: Some(100),
            },
            Sample {
                server: Some(25_000),
                desks: Some(3_100),
            },
        );
        assert_eq!(
            spent.line(Duration::from_secs(120), 120_000, 2),
            "CPU while the desks ran, of 2 cores: the server 2.00 cores, 2.00 ms an operation; \
             the desks' process 0.25 cores, 0.25 ms an operation"
        );
        let remote = Spent {
            server: None,
            ..spent
        };
        assert!(
            remote
                .line(Duration::from_secs(1), 1, 2)
                .contains("the server not measured (not on this machine)")
        );
    }

    #[test]
    fn this_process_is_measured() {
        let sample = Sample::now(None);
        assert!(sample.desks.is_some());
        assert_eq!(sample.server, None);
    }
}
