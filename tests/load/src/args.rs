//! Reading a mode's command line, `[COMMAND] --name value …`, the same way in every mode.
//!
//! Each mode keeps its own `Args` struct and defaults and matches flag names itself; [`Flags`] does the
//! rest, so a missing value, a bad number, an unknown flag and `--help` get one answer everywhere: `--help`
//! (or `-h`) prints the mode's usage and exits 0, a mistake prints the reason and the usage and exits 2.

use std::str::FromStr;

/// The words after a mode's name, read in order.
pub(crate) struct Flags {
    raw: std::vec::IntoIter<String>,
    usage: &'static str,
}

/// One `--name value` pair.
pub(crate) struct Flag {
    pub(crate) name: String,
    pub(crate) value: String,
}

impl Flags {
    /// The mode's command (`latency`, `bytes`, …): its first word, before any flag.
    pub(crate) fn command(&mut self) -> Result<String, String> {
        match self.raw.next() {
            None => Err("the command is missing".to_owned()),
            Some(word) if is_help(&word) => self.help(),
            Some(word) => Ok(word),
        }
    }

    /// The next flag and its value, or `None` after the last.
    pub(crate) fn next(&mut self) -> Result<Option<Flag>, String> {
        let Some(name) = self.raw.next() else {
            return Ok(None);
        };
        if is_help(&name) {
            self.help();
        }
        let value = self.raw.next().ok_or(format!("{name} needs a value"))?;
        Ok(Some(Flag { name, value }))
    }

    fn help(&self) -> ! {
        println!("{}", self.usage);
        std::process::exit(0);
    }
}

impl Flag {
    /// The value as a number.
    pub(crate) fn number<T: FromStr>(&self) -> Result<T, String> {
        self.parse("a number")
    }

    /// The value parsed as `T`; `what` names the expected form for the error (`HOST:PORT`).
    pub(crate) fn parse<T: FromStr>(&self, what: &str) -> Result<T, String> {
        self.value
            .parse()
            .map_err(|_| format!("{} takes {what}", self.name))
    }

    /// The error for a flag the mode does not take.
    pub(crate) fn unknown(&self) -> String {
        format!("unknown option {}", self.name)
    }
}

fn is_help(word: &str) -> bool {
    matches!(word, "--help" | "-h")
}

/// Reads `raw` with `parse`; `--help` and mistakes end the process as the module docs say.
pub(crate) fn parse_or_exit<A>(
    raw: Vec<String>,
    usage: &'static str,
    parse: fn(&mut Flags) -> Result<A, String>,
) -> A {
    let mut flags = Flags {
        raw: raw.into_iter(),
        usage,
    };
    match parse(&mut flags) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n{usage}");
            std::process::exit(2);
        }
    }
}
