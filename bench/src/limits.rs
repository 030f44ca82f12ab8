//! The open-files limit. Every connection is a socket on each side, so a run of many
//! thousands needs more than the usual soft limit (often 1,024): `im-bench` raises its
//! own to the hard limit at start, and a spawned `im serve` inherits it.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The soft limit on open files before and after [`raise_open_files`]; `None` is
/// unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Raises the soft limit on open files to the hard limit.
pub fn raise_open_files() -> std::io::Result<OpenFiles> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(OpenFiles {
            before: limit.current,
            after: limit.current,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok(OpenFiles {
        before: limit.current,
        after: getrlimit(Resource::Nofile).current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_reaches_the_hard_one() {
        let raised = raise_open_files().unwrap();
        let now = getrlimit(Resource::Nofile);
        assert_eq!(raised.after, now.current);
        assert_eq!(now.current, now.maximum);
        assert!(raised.after >= raised.before || raised.after.is_none());
    }
}
