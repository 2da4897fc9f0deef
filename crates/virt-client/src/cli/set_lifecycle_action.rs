//! `virt set-lifecycle-action DOMAIN TYPE ACTION [--config|--live|--current]`: changes what
//! happens on poweroff, reboot or crash (libvirt: virDomainSetLifecycleAction).

use virt_client::Connection;
use virt_core::kit::tune::LIFECYCLE_TYPES;
use virt_core::model::enums::LifecycleAction;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::opt_string;

/// Options of `set-lifecycle-action`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Lifecycle type to modify (poweroff, reboot, crash).
    #[arg(value_name = "TYPE", required_unless_present = "type_opt")]
    pub kind: Option<String>,
    /// Lifecycle type to modify.
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "kind")]
    pub type_opt: Option<String>,
    /// Lifecycle action to set.
    #[arg(value_name = "ACTION", required_unless_present = "action_opt")]
    pub action: Option<String>,
    /// Lifecycle action to set.
    #[arg(long = "action", value_name = "ACTION", conflicts_with = "action")]
    pub action_opt: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `set-lifecycle-action`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let kind_arg = if args.kind.is_some() {
        &args.kind
    } else {
        &args.type_opt
    };
    let action_arg = if args.action.is_some() {
        &args.action
    } else {
        &args.action_opt
    };
    let kind = opt_string(kind_arg, "type")?.unwrap_or_default();
    let action = opt_string(action_arg, "action")?.unwrap_or_default();
    let Some(k) = LIFECYCLE_TYPES.iter().position(|t| *t == kind) else {
        return Err(CliError::msg(format!("Invalid lifecycle type '{kind}'.")));
    };
    let Some(a) = LifecycleAction::ALL
        .iter()
        .position(|x| x.as_str() == action)
    else {
        return Err(CliError::msg(format!(
            "Invalid lifecycle action '{action}'."
        )));
    };
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.set_lifecycle_action(&target.lookup, k as u32, a as u32, flags)
        .await
        .context(|| "Unable to change lifecycle action.".to_string())
}
