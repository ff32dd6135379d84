//! Writes a synthetic attempt log in the research format of `myqcm evaluate`
//! (`scripts/bench-evaluate.sh`).
//!
//! ```text
//! attempt_log LEARNERS ATTEMPTS_PER_LEARNER SEED > attempts.csv
//! ```
//!
//! The story is [`simulate_training`]'s (3PL items with several KCs, KCs learned and forgotten,
//! 0–3 days between a learner's attempts), with 2,000 items and 40 KCs. Columns:
//! `learner,item,kc,timestamp,score,locale,faculty,type,options,difficulty,p_true` (`p_true`:
//! the generator's own P(correct) before the attempt, which `myqcm evaluate` scores as the
//! reference `oracle`); the learners start
//! on different days (so the file, written learner by learner, is not in time order), locales
//! and faculties by learner, the type and option count by item (QCS with 4 or 5 options when the
//! simulated c is positive, else QCM), the difficulty label from the true b. The output is
//! streamed: memory holds the simulation, not the text.
use std::error::Error;
use std::io::{BufWriter, Write};

use myqcm_psychometrics::sim::{TrainingSimConfig, simulate_training};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |k: usize, d: u64| -> Result<u64, Box<dyn Error>> {
        Ok(args.get(k).map(|s| s.parse()).transpose()?.unwrap_or(d))
    };
    let learners = usize::try_from(arg(0, 20_000)?)?;
    let per = usize::try_from(arg(1, 50)?)?;
    let seed = arg(2, 13)?;
    if learners == 0 || per == 0 || learners.saturating_mul(per) > 20_000_000 {
        return Err("between 1 and 20,000,000 attempts".into());
    }
    let cfg = TrainingSimConfig {
        n_learners: learners,
        n_items: 2_000,
        n_kcs: 40,
        attempts_per_learner: per,
        ..TrainingSimConfig::default()
    };
    let sim = simulate_training(&cfg, &mut StdRng::seed_from_u64(seed));
    let out = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, out.lock());
    writeln!(
        w,
        "learner,item,kc,timestamp,score,locale,faculty,type,options,difficulty,p_true"
    )?;
    let locales = ["fr", "ar", "en"];
    let mut day = vec![0u64; learners];
    let mut seen = vec![0usize; learners];
    for a in &sim.attempts {
        let l = a.learner as usize;
        day[l] += u64::from(a.days_elapsed);
        seen[l] += 1;
        // Learner l starts on day l mod 90; attempts a minute apart within a day.
        let t = 1_700_000_000 + (l as u64 % 90 + day[l]) * 86_400 + seen[l] as u64 * 60;
        let it = &sim.items[a.item as usize];
        let kcs: Vec<String> = sim.item_kcs[a.item as usize]
            .iter()
            .map(|k| format!("K{k}"))
            .collect();
        let (kind, options) = if it.c() > 0.0 {
            ("qcs", if a.item % 2 == 0 { 4 } else { 5 })
        } else {
            ("qcm", 5)
        };
        let difficulty = if it.b() < -0.5 {
            "easy"
        } else if it.b() > 0.5 {
            "hard"
        } else {
            "medium"
        };
        writeln!(
            w,
            "L{l},I{},{},{t},{},{},F{},{kind},{options},{difficulty},{:.6}",
            a.item,
            kcs.join(";"),
            u8::from(a.correct),
            locales[l % 3],
            l % 7,
            a.p_true,
        )?;
    }
    w.flush()?;
    Ok(())
}
