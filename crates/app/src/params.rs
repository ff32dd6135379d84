//! `myqcm params`: the parameter sets and the release gate (`list`, `publish <id>`).

use std::fmt::Write as _;

use anyhow::bail;
use myqcm_services::calibration::{Calibration, Judgement, ParameterSetView, PublishOutcome};

fn calibration(services: &crate::Services) -> Calibration {
    Calibration::new(services.db.clone(), services.clock.clone())
}

/// One line per set: id, status, created (UTC), verdict.
#[must_use]
pub fn describe_sets(sets: &[ParameterSetView]) -> String {
    let mut out = format!("{:>4}  {:<9}  {:<20}  verdict\n", "id", "status", "created");
    for s in sets {
        let created = chrono::DateTime::from_timestamp_millis(s.created_at).map_or_else(
            || s.created_at.to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        let verdict = match &s.verdict {
            None => "-".to_owned(),
            Some((true, r)) => format!("accepted: {r}"),
            Some((false, r)) => format!("rejected: {r}"),
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<9}  {created:<20}  {verdict}",
            s.id, s.status
        );
    }
    out
}

/// The gate's report in words.
#[must_use]
pub fn describe_judgement(j: &Judgement) -> String {
    format!(
        "candidate {} against set {} on {} held-out attempts ({} before them replayed):\n  \
         log-loss {:.4} vs {:.4} ({:+.2} %), ECE {:.4} vs {:.4} ({:+.4}), Brier {:.4} vs {:.4}\n  \
         rule {}{}; {}: {}",
        j.candidate,
        j.current.parameter_set_id,
        j.held_out,
        j.warm_up,
        j.candidate_scores.log_loss,
        j.current.log_loss,
        j.log_loss_change * 100.0,
        j.candidate_scores.ece,
        j.current.ece,
        j.ece_change,
        j.candidate_scores.brier,
        j.current.brier,
        j.rule,
        j.kcs_no_worse.map_or_else(String::new, |v| format!(
            " (ECE no worse on {:.0} % of {} KCs)",
            v * 100.0,
            j.per_kc.len()
        )),
        if j.accept { "accepted" } else { "rejected" },
        j.reason
    )
}

/// `myqcm params list`.
///
/// # Errors
/// Storage failures.
pub async fn list(services: &crate::Services) -> anyhow::Result<()> {
    print!(
        "{}",
        describe_sets(&calibration(services).parameter_sets().await?)
    );
    Ok(())
}

/// `myqcm params publish <id>`: judge, then publish when the gate passes; a refused candidate
/// is kept as `rejected` with its report and the command fails with the reason.
///
/// # Errors
/// The gate's refusal, an unknown or non-candidate set, storage failures.
pub async fn publish(services: &crate::Services, id: i64) -> anyhow::Result<()> {
    match calibration(services).publish(id).await? {
        PublishOutcome::Published {
            judgement,
            retired,
            recompute_job,
        } => {
            println!("{}", describe_judgement(&judgement));
            println!(
                "published: set {id} is active, set {retired} retired; every answer from now on \
                 is served under it\nlearner θ and mastery: recomputed by job {recompute_job} \
                 ({}) on the worker",
                myqcm_services::calibration::RECOMPUTE_JOB
            );
            Ok(())
        }
        PublishOutcome::Rejected(judgement) => {
            println!("{}", describe_judgement(&judgement));
            bail!(
                "set {id} rejected by the release gate: {}",
                judgement.reason
            )
        }
    }
}
