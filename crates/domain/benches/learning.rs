//! Benchmarks of the learner-state update (divan): `cargo bench -p myqcm-domain --bench learning`.
//!
//! * `update_after_answer`: one full update after a graded answer — ability (41-node grid),
//!   two KCs (BKT), the item's memory (FSRS review) — the work done inside the attempt
//!   transaction (target < 50 µs);
//! * `predict_before_serving`: the P(correct) stored with a served item;
//! * `grade_qcm`: scoring a QCM selection and labelling it.
#![expect(
    clippy::expect_used,
    reason = "benchmarks run on fixed, valid inputs and should abort loudly otherwise"
)]

use std::hint::black_box;

use myqcm_domain::catalogue::{Difficulty, ItemContent, ItemKind, Locale, OptionSpec, SourceTags};
use myqcm_domain::learning::{Ability, KcState, Memory, predict, prior_item_params, update};
use myqcm_domain::scoring::{Response, RuleSet, grade};
use myqcm_psychometrics::bkt::BktParams;
use myqcm_psychometrics::memory::MemoryModel;

fn main() {
    divan::main();
}

fn state() -> (Ability, Vec<(KcState, BktParams)>, Memory) {
    let p = BktParams::default();
    (
        Ability {
            theta: 0.4,
            se: 0.6,
            answers: 12,
        },
        vec![
            (
                KcState {
                    mastery: 0.45,
                    evidence: 6,
                },
                p,
            ),
            (
                KcState {
                    mastery: 0.8,
                    evidence: 9,
                },
                p,
            ),
        ],
        Memory {
            stability: 3.2,
            difficulty: 5.1,
            reviews: 2,
            lapses: 0,
            last_review_ms: 0,
            due_ms: 3 * 86_400_000,
        },
    )
}

#[divan::bench]
fn update_after_answer(bencher: divan::Bencher) {
    let model = MemoryModel::new(&[], 0.9).expect("default FSRS parameters");
    let item = prior_item_params(ItemKind::Qcs, Difficulty::Medium, 4);
    let (ability, kcs, memory) = state();
    bencher.bench_local(|| {
        black_box(update(
            &model,
            black_box(&ability),
            black_box(&kcs),
            Some(black_box(&memory)),
            &item,
            true,
            5 * 86_400_000,
        ))
        .expect("update")
    });
}

#[divan::bench]
fn predict_before_serving(bencher: divan::Bencher) {
    let item = prior_item_params(ItemKind::Qcm, Difficulty::Hard, 5);
    let (ability, kcs, _) = state();
    bencher.bench_local(|| black_box(predict(black_box(&ability), &kcs, &item)).expect("predict"));
}

#[divan::bench]
fn grade_qcm(bencher: divan::Bencher) {
    let content = ItemContent {
        kind: ItemKind::Qcm,
        locale: Locale::Fr,
        stem: "?".into(),
        options: [true, true, false, false, false]
            .iter()
            .map(|c| OptionSpec {
                text: "o".into(),
                correct: *c,
                explanation: String::new(),
            })
            .collect(),
        qroc: None,
        explanation: String::new(),
        references: vec![],
        difficulty: Difficulty::Medium,
        estimated_seconds: 30,
        source: SourceTags::default(),
    };
    let rules = RuleSet::default();
    let response = Response::Options(vec![0, 2]);
    bencher
        .bench_local(|| black_box(grade(&rules, &content, black_box(&response))).expect("grade"));
}
