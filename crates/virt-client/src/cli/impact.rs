//! virsh's `--live --config --current` options and their checks, shared by the commands that
//! change a domain's configuration.

use virt_core::proto::ModificationFlag as F;

use super::report::CliError;

/// The three impact options.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Impact {
    /// Affect the running domain.
    #[arg(long)]
    pub live: bool,
    /// Affect the next boot.
    #[arg(long)]
    pub config: bool,
    /// Affect the current domain.
    #[arg(long)]
    pub current: bool,
}

/// virsh's message for two options that cannot go together.
pub fn exclusive(a: &str, b: &str) -> CliError {
    CliError::msg(format!("Options --{a} and --{b} are mutually exclusive"))
}

impl Impact {
    /// LIVE/CONFIG bits, or `None` when no option was given (the caller picks the legacy call's
    /// meaning). `--current` with `--live` or `--config` is refused as virsh refuses it.
    pub fn flags(&self) -> Result<Option<u32>, CliError> {
        if self.current && self.live {
            return Err(exclusive("current", "live"));
        }
        if self.current && self.config {
            return Err(exclusive("current", "config"));
        }
        if !self.current && !self.live && !self.config {
            return Ok(None);
        }
        let mut flags = 0;
        if self.live {
            flags |= F::Live as u32;
        }
        if self.config {
            flags |= F::Config as u32;
        }
        Ok(Some(flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_excludes_live_and_config() {
        let both = Impact {
            current: true,
            live: true,
            ..Default::default()
        };
        assert_eq!(
            both.flags().expect_err("exclusive").lines(),
            vec!["Options --current and --live are mutually exclusive"]
        );
        let lc = Impact {
            live: true,
            config: true,
            ..Default::default()
        };
        assert_eq!(lc.flags().expect("valid"), Some(3));
        assert_eq!(Impact::default().flags().expect("valid"), None);
    }
}
