//! What keys can be bound to: a small, named set of commands. The keymap, the legend, the
//! help screen and the `:` command line all speak this one vocabulary.

use std::fmt;

/// A command a person can invoke by key or by name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Help,
    Save,
    Leave,
    Lookup,
    Refresh,
    Cancel,
    NextField,
    PrevField,
    CommandLine,
    Search,
    Details,
    OpenAccount,
    Modify,
    Transfer,
    PageDown,
    PageUp,
    First,
    Last,
    Overview,
    Logout,
    Quit,
    Card,
    CardUsage,
    PendingCards,
    OpenCard,
    ReplaceCard,
    Recharge,
    CardRefund,
    Recycle,
    SettleWithoutCard,
    Add,
    Delete,
    Import,
    Prices,
    Listing,
    Meters,
    MeterTypes,
    Schemes,
    CustomerTypes,
    Password,
    Audit,
    Export,
    Operators,
    Departments,
    Roles,
    SwitchEnabled,
    ResetPassword,
    ReportLost,
    PayOwed,
    Account,
    Refund,
    Reprint,
    Home,
    EnterReading,
    Bills,
    VoidBill,
    Readings,
    Shift,
    Reports,
    Arrears,
    OpenShift,
    CloseShift,
    PrintReport,
    SystemCard,
    CloseAccount,
    ThisMonth,
    LastMonth,
}

impl Command {
    pub const ALL: [Command; 67] = [
        Command::Help,
        Command::Save,
        Command::Leave,
        Command::Lookup,
        Command::Refresh,
        Command::Cancel,
        Command::NextField,
        Command::PrevField,
        Command::CommandLine,
        Command::Search,
        Command::Details,
        Command::OpenAccount,
        Command::Modify,
        Command::Transfer,
        Command::PageDown,
        Command::PageUp,
        Command::First,
        Command::Last,
        Command::Overview,
        Command::Logout,
        Command::Quit,
        Command::Card,
        Command::CardUsage,
        Command::PendingCards,
        Command::OpenCard,
        Command::ReplaceCard,
        Command::Recharge,
        Command::CardRefund,
        Command::Recycle,
        Command::SettleWithoutCard,
        Command::Add,
        Command::Delete,
        Command::Import,
        Command::Prices,
        Command::Listing,
        Command::Meters,
        Command::MeterTypes,
        Command::Schemes,
        Command::CustomerTypes,
        Command::Password,
        Command::Audit,
        Command::Export,
        Command::Operators,
        Command::Departments,
        Command::Roles,
        Command::SwitchEnabled,
        Command::ResetPassword,
        Command::ReportLost,
        Command::PayOwed,
        Command::Account,
        Command::Refund,
        Command::Reprint,
        Command::Home,
        Command::EnterReading,
        Command::Bills,
        Command::VoidBill,
        Command::Readings,
        Command::Shift,
        Command::Reports,
        Command::Arrears,
        Command::OpenShift,
        Command::CloseShift,
        Command::PrintReport,
        Command::SystemCard,
        Command::CloseAccount,
        Command::ThisMonth,
        Command::LastMonth,
    ];

    /// The name used in config.toml `[ui.keys]` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::Save => "save",
            Command::Leave => "leave",
            Command::Lookup => "lookup",
            Command::Refresh => "refresh",
            Command::Cancel => "cancel",
            Command::NextField => "next-field",
            Command::PrevField => "prev-field",
            Command::CommandLine => "command-line",
            Command::Search => "search",
            Command::Details => "details",
            Command::OpenAccount => "open",
            Command::Modify => "modify",
            Command::Transfer => "transfer",
            Command::PageDown => "page-down",
            Command::PageUp => "page-up",
            Command::First => "first",
            Command::Last => "last",
            Command::Overview => "overview",
            Command::Logout => "logout",
            Command::Quit => "quit",
            Command::Card => "card",
            Command::CardUsage => "card-usage",
            Command::PendingCards => "pending-cards",
            Command::OpenCard => "open-card",
            Command::ReplaceCard => "replace-card",
            Command::Recharge => "recharge",
            Command::CardRefund => "card-refund",
            Command::Recycle => "recycle",
            Command::SettleWithoutCard => "settle-without-card",
            Command::Add => "add",
            Command::Delete => "delete",
            Command::Import => "import",
            Command::Prices => "prices",
            Command::Listing => "installed",
            Command::Meters => "meters",
            Command::MeterTypes => "metertypes",
            Command::Schemes => "schemes",
            Command::CustomerTypes => "custtypes",
            Command::Password => "password",
            Command::Audit => "audit",
            Command::Export => "export",
            Command::Operators => "operators",
            Command::Departments => "departments",
            Command::Roles => "roles",
            Command::SwitchEnabled => "enable-disable",
            Command::ResetPassword => "reset-password",
            Command::ReportLost => "report-lost",
            Command::PayOwed => "pay-owed",
            Command::Account => "account",
            Command::Refund => "refund",
            Command::Reprint => "reprint",
            Command::Home => "home",
            Command::EnterReading => "reading",
            Command::Bills => "bills",
            Command::VoidBill => "void-bill",
            Command::Readings => "readings",
            Command::Shift => "shift",
            Command::Reports => "reports",
            Command::Arrears => "arrears",
            Command::OpenShift => "open-shift",
            Command::CloseShift => "close-shift",
            Command::PrintReport => "print-report",
            Command::SystemCard => "system-card",
            Command::CloseAccount => "close-account",
            Command::ThisMonth => "this-month",
            Command::LastMonth => "last-month",
        }
    }

    /// The catalogue key of the short label shown in the legend and help.
    pub fn label_key(self) -> &'static str {
        match self {
            Command::Help => "command.help",
            Command::Save => "command.save",
            Command::Leave => "command.leave",
            Command::Lookup => "command.lookup",
            Command::Refresh => "command.refresh",
            Command::Cancel => "command.cancel",
            Command::NextField => "command.next_field",
            Command::PrevField => "command.prev_field",
            Command::CommandLine => "command.command_line",
            Command::Search => "command.search",
            Command::Details => "command.details",
            Command::OpenAccount => "command.open_account",
            Command::Modify => "command.modify",
            Command::Transfer => "command.transfer",
            Command::PageDown => "command.page_down",
            Command::PageUp => "command.page_up",
            Command::First => "command.first",
            Command::Last => "command.last",
            Command::Overview => "command.overview",
            Command::Logout => "command.logout",
            Command::Quit => "command.quit",
            Command::Card => "ic.cmd_card",
            Command::CardUsage => "ic.cmd_usage",
            Command::PendingCards => "ic.cmd_pending",
            Command::OpenCard => "ic.cmd_open",
            Command::ReplaceCard => "ic.cmd_replace",
            Command::Recharge => "ic.cmd_recharge",
            Command::CardRefund => "ic.cmd_refund",
            Command::Recycle => "ic.cmd_recycle",
            Command::SettleWithoutCard => "ic.cmd_without_card",
            Command::Add => "command.add",
            Command::Delete => "command.delete",
            Command::Import => "command.import",
            Command::Prices => "command.prices",
            Command::Listing => "command.listing",
            Command::Meters => "command.meters",
            Command::MeterTypes => "command.meter_types",
            Command::Schemes => "command.schemes",
            Command::CustomerTypes => "command.customer_types",
            Command::Password => "command.password",
            Command::Audit => "command.audit",
            Command::Export => "command.export",
            Command::Operators => "operators.cmd_operators",
            Command::Departments => "operators.cmd_departments",
            Command::Roles => "operators.cmd_roles",
            Command::SwitchEnabled => "operators.cmd_switch_enabled",
            Command::ResetPassword => "operators.cmd_reset_password",
            Command::ReportLost => "ic.cmd_report_lost",
            Command::PayOwed => "ic.cmd_pay_owed",
            Command::Account => "acct.cmd_account",
            Command::Refund => "acct.cmd_refund",
            Command::Reprint => "acct.cmd_reprint",
            Command::Home => "keyboard.cmd_home",
            Command::EnterReading => "readings.cmd_reading",
            Command::Bills => "bills.cmd_bills",
            Command::VoidBill => "bills.cmd_void",
            Command::Readings => "reading_import.cmd",
            Command::Shift => "shift.cmd_shift",
            Command::Reports => "report.cmd_reports",
            Command::Arrears => "arrears.cmd_arrears",
            Command::OpenShift => "shift.cmd_open",
            Command::CloseShift => "shift.cmd_close",
            Command::PrintReport => "shift.cmd_print",
            Command::SystemCard => "system_card.cmd",
            Command::CloseAccount => "close_account.cmd_close",
            Command::ThisMonth => "report.cmd_this_month",
            Command::LastMonth => "report.cmd_last_month",
        }
    }

    /// The permission (`role_permission`) this command needs wherever it is offered; None for
    /// a command everyone may use, or whose need depends on the screen (`Add`, `Modify`,
    /// `Delete`, … there: `Screen::permission`).
    pub fn permission(self) -> Option<&'static str> {
        Some(match self {
            Command::OpenAccount => "customer.open",
            Command::Transfer => "customer.transfer",
            Command::OpenCard => "card.open",
            Command::ReplaceCard | Command::ReportLost => "card.replace",
            // What `card_recharge_owed_pay` asks (sql/V163): whoever sells the water.
            Command::Recharge | Command::PayOwed => "card.recharge",
            Command::CardRefund => "card.refund",
            Command::Refund => "account.refund",
            Command::EnterReading | Command::Readings => "reading.enter",
            Command::VoidBill => "bill.void",
            Command::Recycle => "card.recycle",
            Command::PendingCards | Command::SettleWithoutCard => "card.resolve",
            Command::Import => "meter.import",
            Command::Audit => "audit.view",
            Command::Reports => "reports.view",
            Command::SystemCard => "card.system",
            Command::CloseAccount => "customer.close",
            Command::Operators | Command::SwitchEnabled | Command::ResetPassword => {
                "operator.maintain"
            }
            Command::Departments => "department.maintain",
            Command::Roles => "role.maintain",
            _ => return None,
        })
    }

    /// Whether this command goes on to write a user card (after its form and confirmation):
    /// refused at once when the desk's card writes are stopped.
    pub fn writes_card(self) -> bool {
        matches!(
            self,
            Command::OpenCard
                | Command::ReplaceCard
                | Command::Recharge
                | Command::CardRefund
                | Command::Recycle
        )
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL
            .into_iter()
            .find(|command| command.name() == name)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for command in Command::ALL {
            assert_eq!(Command::from_name(command.name()), Some(command));
        }
        let mut names: Vec<_> = Command::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Command::ALL.len());
    }
}
