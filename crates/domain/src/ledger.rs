//! The authors' earnings ledger, as rules without I/O: balanced transactions (double entry),
//! the accounts they move money between, the withdrawal states, and the Algérie Poste account
//! numbers a payout goes to (CCP with its key, or the 20-digit RIP), validated and masked.
//!
//! Money is an integer number of **centimes** (1 DZD = 100 centimes), signed: in one
//! transaction the entries sum to zero. A wallet's balance is the sum of its entries.

use std::fmt;

/// What a ledger account stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// What the platform owes one author (one per author account). Positive = owed.
    AuthorWallet,
    /// The platform's cost of authors' earnings (the counterpart of every earning).
    PlatformExpense,
    /// Money promised to an author's payout and not yet paid or failed.
    PayoutClearing,
    /// Money that left the platform to an author's postal account.
    PlatformBank,
}

impl AccountKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorWallet => "author_wallet",
            Self::PlatformExpense => "platform_expense",
            Self::PayoutClearing => "payout_clearing",
            Self::PlatformBank => "platform_bank",
        }
    }
}

/// What a ledger transaction records; each names its exactly-once reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    /// An author's pay for an item's first approval (`earning:<item id>`).
    Earning,
    /// A withdrawal request moves money from the wallet to clearing (`withdrawal:<id>`).
    WithdrawalRequest,
    /// The payout was made: clearing to the platform's bank (`payout:<id>`).
    PayoutPaid,
    /// The payout failed: the reversal of the request, clearing back to the wallet
    /// (`payout:<id>`).
    PayoutReversal,
}

impl TransactionKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earning => "earning",
            Self::WithdrawalRequest => "withdrawal_request",
            Self::PayoutPaid => "payout_paid",
            Self::PayoutReversal => "payout_reversal",
        }
    }
}

/// One line of a transaction: `amount` centimes on an account (an opaque key chosen by the
/// caller, e.g. the account id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting<A> {
    /// The account.
    pub account: A,
    /// Signed centimes.
    pub amount: i64,
}

/// Why a transaction cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerRuleError {
    /// The amounts do not sum to zero (or overflow).
    #[error("the entries of a transaction must sum to zero")]
    Unbalanced,
    /// A transaction moves money between at least two lines, none of them zero.
    #[error("a transaction needs at least two non-zero entries")]
    Degenerate,
    /// A moved amount must be positive.
    #[error("the amount must be positive")]
    NotPositive,
}

/// A balanced set of postings (double entry): at least two non-zero lines summing to zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balanced<A>(Vec<Posting<A>>);

impl<A> Balanced<A> {
    /// Checks `postings`.
    ///
    /// # Errors
    /// [`LedgerRuleError::Degenerate`], [`LedgerRuleError::Unbalanced`].
    pub fn new(postings: Vec<Posting<A>>) -> Result<Self, LedgerRuleError> {
        if postings.len() < 2 || postings.iter().any(|p| p.amount == 0) {
            return Err(LedgerRuleError::Degenerate);
        }
        let mut sum: i64 = 0;
        for p in &postings {
            sum = sum
                .checked_add(p.amount)
                .ok_or(LedgerRuleError::Unbalanced)?;
        }
        if sum != 0 {
            return Err(LedgerRuleError::Unbalanced);
        }
        Ok(Self(postings))
    }

    /// Moves `amount` (> 0) from `from` to `to`: `from` −amount, `to` +amount.
    ///
    /// # Errors
    /// [`LedgerRuleError::NotPositive`].
    pub fn transfer(from: A, to: A, amount: i64) -> Result<Self, LedgerRuleError> {
        if amount <= 0 {
            return Err(LedgerRuleError::NotPositive);
        }
        Self::new(vec![
            Posting {
                account: from,
                amount: -amount,
            },
            Posting {
                account: to,
                amount,
            },
        ])
    }

    /// The reversal: the same lines with opposite signs (a correction never edits entries).
    pub fn reversed(&self) -> Self
    where
        A: Clone,
    {
        Self(
            self.0
                .iter()
                .map(|p| Posting {
                    account: p.account.clone(),
                    amount: -p.amount,
                })
                .collect(),
        )
    }

    /// The lines.
    pub fn postings(&self) -> &[Posting<A>] {
        &self.0
    }
}

/// The state of a withdrawal: requested, then paid or failed, never back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalStatus {
    /// Waiting for finance staff.
    Requested,
    /// The money was sent.
    Paid,
    /// The payout failed; the amount went back to the wallet.
    Failed,
}

impl WithdrawalStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Paid => "paid",
            Self::Failed => "failed",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "requested" => Some(Self::Requested),
            "paid" => Some(Self::Paid),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Smallest withdrawal, in centimes (100 DZD): below it a postal transfer is not worth it.
pub const MIN_WITHDRAWAL: i64 = 10_000;
/// Largest single withdrawal, in centimes (1 000 000 DZD).
pub const MAX_WITHDRAWAL: i64 = 100_000_000;

/// Parses an amount in dinars as typed (`150`, `150.5`, `150,50`) into centimes; at most two
/// decimals, positive, at most [`MAX_WITHDRAWAL`].
pub fn parse_dzd(text: &str) -> Option<i64> {
    let t = text.trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || whole.len() > 9
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let v = w.checked_mul(100)?.checked_add(f)?;
    (v > 0 && v <= MAX_WITHDRAWAL).then_some(v)
}

/// Centimes written as dinars with two decimals (`1500` → `15.00`, `-5` → `-0.05`).
pub fn format_dzd(centimes: i64) -> String {
    let sign = if centimes < 0 { "-" } else { "" };
    let a = centimes.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// An Algérie Poste postal account (CCP), validated: the account number (up to 10 digits)
/// and its 2-digit key. Its RIP (relevé d'identité postale) is derived from it.
#[derive(Clone, PartialEq, Eq)]
pub struct CcpAccount {
    number: u64,
}

impl fmt::Debug for CcpAccount {
    // Never printed in full, even by accident in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CcpAccount({})", self.masked())
    }
}

/// Why an account number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CcpError {
    /// Neither `number key` nor a 20-digit RIP.
    #[error("enter the CCP number and its key, or the 20-digit RIP")]
    Format,
    /// The key does not match the number.
    #[error("the key does not match the account number")]
    Key,
    /// A RIP of another bank or branch than Algérie Poste's `007 99999`.
    #[error("this RIP is not an Algérie Poste postal account")]
    NotPostal,
}

/// Algérie Poste's bank code and the branch code of every postal account in a RIP.
const RIP_BANK: &str = "007";
const RIP_BRANCH: &str = "99999";

impl CcpAccount {
    /// The key of a CCP account number: each digit times its weight, the weights 4, 5, 6, …
    /// counted from the rightmost digit, summed, modulo 100.
    pub fn ccp_key(number: u64) -> u8 {
        let mut n = number;
        let mut sum: u64 = 0;
        let mut weight = 4;
        while n > 0 {
            sum += (n % 10) * weight;
            n /= 10;
            weight += 1;
        }
        // `sum % 100` is below 100.
        u8::try_from(sum % 100).unwrap_or(0)
    }

    /// The key of the RIP `007 99999 <number on 10 digits> <key>`: 97 minus
    /// (`99999‖number` × 100) modulo 97, so that `99999‖number‖key` is divisible by 97 (the
    /// bank code `007` does not enter the computation).
    pub fn rip_key(number: u64) -> u8 {
        let base = 99_999u128 * 10_000_000_000 + u128::from(number);
        // The result is between 1 and 97.
        u8::try_from(97 - (base * 100) % 97).unwrap_or(0)
    }

    /// Parses what an author typed: `number key` (the key after a space, a dash, a slash or the
    /// word "clé"/"cle"/"key"), `number` and `key` run together are not accepted (ambiguous),
    /// or the 20-digit RIP (spaces allowed) `007 99999 NNNNNNNNNN KK`.
    ///
    /// # Errors
    /// [`CcpError`].
    pub fn parse(text: &str) -> Result<Self, CcpError> {
        let lower = text.trim().to_lowercase();
        let cleaned = lower
            .replace("clé", " ")
            .replace("cle", " ")
            .replace("key", " ")
            .replace(['-', '/', ':', '.'], " ");
        let groups: Vec<&str> = cleaned.split_whitespace().collect();
        if groups.is_empty() || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
            return Err(CcpError::Format);
        }
        let joined: String = groups.concat();
        if joined.len() == 20 {
            return Self::from_rip(&joined);
        }
        let [number, key] = groups.as_slice() else {
            return Err(CcpError::Format);
        };
        if number.is_empty() || number.len() > 10 || key.len() != 2 {
            return Err(CcpError::Format);
        }
        let n: u64 = number.parse().map_err(|_| CcpError::Format)?;
        let k: u8 = key.parse().map_err(|_| CcpError::Format)?;
        if n == 0 {
            return Err(CcpError::Format);
        }
        if Self::ccp_key(n) != k {
            return Err(CcpError::Key);
        }
        Ok(Self { number: n })
    }

    fn from_rip(rip: &str) -> Result<Self, CcpError> {
        let (bank, rest) = rip.split_at(3);
        let (branch, rest) = rest.split_at(5);
        let (number, key) = rest.split_at(10);
        if bank != RIP_BANK || branch != RIP_BRANCH {
            return Err(CcpError::NotPostal);
        }
        let n: u64 = number.parse().map_err(|_| CcpError::Format)?;
        let k: u8 = key.parse().map_err(|_| CcpError::Format)?;
        if n == 0 {
            return Err(CcpError::Format);
        }
        if Self::rip_key(n) != k {
            return Err(CcpError::Key);
        }
        Ok(Self { number: n })
    }

    /// The account number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// `number clé key`, the form printed on a postal cheque (what finance staff type).
    pub fn display_full(&self) -> String {
        format!("{} clé {:02}", self.number, Self::ccp_key(self.number))
    }

    /// The 20-digit RIP.
    pub fn rip(&self) -> String {
        format!(
            "{RIP_BANK}{RIP_BRANCH}{:010}{:02}",
            self.number,
            Self::rip_key(self.number)
        )
    }

    /// The form shown to anyone but finance staff settling a payout: every digit of the
    /// number hidden but the last two, and no key (`••••••••34`).
    pub fn masked(&self) -> String {
        let digits = self.number.to_string();
        let keep = digits.len().min(2);
        let hidden = digits.len() - keep;
        format!("{}{}", "•".repeat(hidden.max(4)), &digits[hidden..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_balances_and_its_reversal_cancels_it() {
        let t = Balanced::transfer("wallet", "clearing", 1500).unwrap();
        assert_eq!(t.postings().iter().map(|p| p.amount).sum::<i64>(), 0);
        assert_eq!(
            t.postings()[0],
            Posting {
                account: "wallet",
                amount: -1500
            }
        );
        let r = t.reversed();
        assert_eq!(
            r.postings()[0],
            Posting {
                account: "wallet",
                amount: 1500
            }
        );
        assert_eq!(
            r.postings()[1],
            Posting {
                account: "clearing",
                amount: -1500
            }
        );
    }

    #[test]
    fn unbalanced_empty_zero_and_overflowing_transactions_are_refused() {
        let p = |account, amount| Posting { account, amount };
        assert_eq!(
            Balanced::new(vec![p(1, 10), p(2, -9)]),
            Err(LedgerRuleError::Unbalanced)
        );
        assert_eq!(
            Balanced::new(vec![p(1, 0), p(2, 0)]),
            Err(LedgerRuleError::Degenerate)
        );
        assert_eq!(
            Balanced::<i32>::new(vec![]),
            Err(LedgerRuleError::Degenerate)
        );
        assert_eq!(
            Balanced::new(vec![p(1, 5)]),
            Err(LedgerRuleError::Degenerate)
        );
        assert_eq!(
            Balanced::new(vec![p(1, i64::MAX), p(2, i64::MAX), p(3, 2)]),
            Err(LedgerRuleError::Unbalanced)
        );
        assert!(Balanced::new(vec![p(1, 7), p(2, -3), p(3, -4)]).is_ok());
        assert_eq!(
            Balanced::transfer(1, 2, 0),
            Err(LedgerRuleError::NotPositive)
        );
        assert_eq!(
            Balanced::transfer(1, 2, -5),
            Err(LedgerRuleError::NotPositive)
        );
    }

    #[test]
    fn amounts_parse_to_centimes() {
        assert_eq!(parse_dzd("150"), Some(15_000));
        assert_eq!(parse_dzd(" 150.5 "), Some(15_050));
        assert_eq!(parse_dzd("150,05"), Some(15_005));
        assert_eq!(parse_dzd("0.01"), Some(1));
        for bad in [
            "", "0", "-5", "1.234", "1e3", "abc", ".5", "10000000", "1 000",
        ] {
            assert_eq!(parse_dzd(bad), None, "{bad:?}");
        }
        assert_eq!(format_dzd(1500), "15.00");
        assert_eq!(format_dzd(5), "0.05");
        assert_eq!(format_dzd(-1505), "-15.05");
    }

    // The published reference: Algérie Poste's solidarity account announced in March 2020,
    // "CCP 200 clé 12", "RIP 007 99999 0000000200 91".
    #[test]
    fn the_published_account_200_has_key_12_and_rip_key_91() {
        assert_eq!(CcpAccount::ccp_key(200), 12);
        assert_eq!(CcpAccount::rip_key(200), 91);
        let a = CcpAccount::parse("200 clé 12").unwrap();
        assert_eq!(a.rip(), "00799999000000020091");
        assert_eq!(CcpAccount::parse("007 99999 0000000200 91").unwrap(), a);
        assert_eq!(a.display_full(), "200 clé 12");
    }

    #[test]
    fn the_ccp_key_weights_digits_from_four_at_the_right() {
        // 1234567890: 0·4 + 9·5 + 8·6 + 7·7 + 6·8 + 5·9 + 4·10 + 3·11 + 2·12 + 1·13 = 345.
        assert_eq!(CcpAccount::ccp_key(1_234_567_890), 45);
        // 9: 9·4 = 36.
        assert_eq!(CcpAccount::ccp_key(9), 36);
        // 99 999 999 99 (ten nines): 9·(4+…+13) = 9·85 = 765.
        assert_eq!(CcpAccount::ccp_key(9_999_999_999), 65);
    }

    #[test]
    fn the_rip_makes_branch_number_and_key_divisible_by_97() {
        for n in [1u64, 200, 12_345_678, 9_999_999_999, 4_242_424_242] {
            let rip = CcpAccount::parse(&format!("{n} {:02}", CcpAccount::ccp_key(n)))
                .unwrap()
                .rip();
            assert_eq!(rip.len(), 20);
            let tail: u128 = rip[3..].parse().unwrap();
            assert_eq!(tail % 97, 0, "{rip}");
            assert_eq!(CcpAccount::parse(&rip).unwrap().number(), n);
        }
    }

    #[test]
    fn the_forms_an_author_may_type_are_accepted() {
        let k = CcpAccount::ccp_key(12_345_678);
        for text in [
            format!("12345678 {k:02}"),
            format!("12345678 clé {k:02}"),
            format!("12345678 CLE {k:02}"),
            format!("12345678-{k:02}"),
            format!("12345678/{k:02}"),
            format!("  12345678   key  {k:02} "),
        ] {
            assert_eq!(
                CcpAccount::parse(&text).unwrap().number(),
                12_345_678,
                "{text}"
            );
        }
    }

    #[test]
    fn a_wrong_key_a_typo_a_foreign_rip_or_garbage_is_refused() {
        let k = CcpAccount::ccp_key(12_345_678);
        let wrong = (k + 1) % 100;
        assert_eq!(
            CcpAccount::parse(&format!("12345678 {wrong:02}")),
            Err(CcpError::Key)
        );
        // One digit changed: the key no longer matches.
        assert_eq!(
            CcpAccount::parse(&format!("12345679 {k:02}")),
            Err(CcpError::Key)
        );
        // Two neighbours swapped (different weights): caught too.
        assert_eq!(
            CcpAccount::parse(&format!("12345687 {k:02}")),
            Err(CcpError::Key)
        );
        // RIP: wrong key, another bank, another branch.
        assert_eq!(
            CcpAccount::parse("00799999000000020092"),
            Err(CcpError::Key)
        );
        assert_eq!(
            CcpAccount::parse("00199999000000020091"),
            Err(CcpError::NotPostal)
        );
        assert_eq!(
            CcpAccount::parse("00712345000000020091"),
            Err(CcpError::NotPostal)
        );
        for bad in [
            "",
            "12",
            "1234567812",
            "abc 12",
            "12345678 1",
            "12345678 123",
            "12345678901 12",
            "0 04",
            "0079999900000002009",
            "1 2 3",
        ] {
            assert!(CcpAccount::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn masking_keeps_two_digits_and_no_key() {
        let a = CcpAccount::parse("200 12").unwrap();
        assert_eq!(a.masked(), "••••00");
        let b = CcpAccount::parse(&format!(
            "1234567890 {:02}",
            CcpAccount::ccp_key(1_234_567_890)
        ))
        .unwrap();
        assert_eq!(b.masked(), "••••••••90");
        assert!(!format!("{b:?}").contains("12345678"));
    }
}
