//! Learner reports on items and their triage: open → accepted → fixed, or open → rejected /
//! fixed directly. The reporter reads the outcome on their own report (notifications later).

use super::text_enum;

/// What the learner thinks is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportCategory {
    /// The key (correct options or expected answer) is wrong.
    WrongKey,
    /// Spelling or wording.
    Typo,
    /// No longer matches current guidelines.
    Outdated,
    /// Anything else (text required).
    Other,
}
text_enum!(
    ReportCategory,
    "report category",
    WrongKey = "wrong_key",
    Typo = "typo",
    Outdated = "outdated",
    Other = "other"
);

/// Where a report is in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// Waiting for triage.
    Open,
    /// Confirmed; a fix is due.
    Accepted,
    /// Not a problem (reason given).
    Rejected,
    /// The item was corrected.
    Fixed,
}
text_enum!(
    ReportStatus,
    "report status",
    Open = "open",
    Accepted = "accepted",
    Rejected = "rejected",
    Fixed = "fixed"
);

/// Whether triage may move a report from `from` to `to`.
pub fn can_move(from: ReportStatus, to: ReportStatus) -> bool {
    use ReportStatus::*;
    matches!(
        (from, to),
        (Open, Accepted | Rejected | Fixed) | (Accepted, Fixed | Rejected)
    )
}

/// Longest report text.
pub const MAX_REPORT_TEXT: usize = 4000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_reports_stay_closed() {
        assert!(can_move(ReportStatus::Open, ReportStatus::Accepted));
        assert!(can_move(ReportStatus::Accepted, ReportStatus::Fixed));
        assert!(!can_move(ReportStatus::Fixed, ReportStatus::Open));
        assert!(!can_move(ReportStatus::Rejected, ReportStatus::Accepted));
    }
}
