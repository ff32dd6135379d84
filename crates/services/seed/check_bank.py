#!/usr/bin/env python3
"""Validate demo_bank.json (the `myqcm seed --demo` question bank).

Standard library only. Usage:
    python3 check_bank.py [path/to/demo_bank.json]
Exit status 0 when every rule passes, 1 otherwise. Prints counts either way.
"""
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

TYPES = {"qcs", "qcm", "qroc"}
LOCALES = {"fr", "en", "ar"}
DIFFICULTIES = {"easy", "medium", "hard"}
SOURCE_KINDS = {"book", "series", "exam_style", "td"}
ROLES = {"student", "author", "reviewer", "admin"}
ITEM_KEYS = {"external_id", "type", "course", "locale", "translation_of", "stem", "options",
             "qroc", "explanation", "references", "difficulty", "estimated_seconds", "kcs", "source"}
TOP_KEYS = {"version", "year_of_study", "subjects", "knowledge_components", "blueprint",
            "items", "clinical_cases", "accounts"}
FORBIDDEN_KEY_RE = re.compile(r"pass(word)?|totp|secret|token|hash", re.I)
ARABIC_RE = re.compile(r"[\u0600-\u06FF]")

MIN_FR_STANDALONE = 120
MIN_PER_SUBJECT = 35
MIN_KCS_PER_SUBJECT = 12
MIN_CASES = 2
MIN_EN = 10
MIN_AR = 8
MIN_STEM = 40
TARGET_MIX = {"qcm": 0.45, "qcs": 0.35, "qroc": 0.20}
MIX_TOLERANCE = 0.10   # "rough mix": each share within +/- 10 points
EPS = 1e-6

errors = []


def err(msg):
    errors.append(msg)


def nonempty_str(x):
    return isinstance(x, str) and x.strip() != ""


def norm_stem(s):
    s = unicodedata.normalize("NFKC", s).lower()
    return re.sub(r"\W+", " ", s).strip()


def walk_keys(obj, path="$"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if FORBIDDEN_KEY_RE.search(k):
                err(f"{path}.{k}: secret-like key not allowed in the bank")
            walk_keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            walk_keys(v, f"{path}[{i}]")


def check_names(name, where):
    if not isinstance(name, dict) or not all(nonempty_str(name.get(l)) for l in LOCALES):
        err(f"{where}: name must have non-empty fr/en/ar")
    elif not ARABIC_RE.search(name["ar"]):
        err(f"{where}: name.ar is not in Arabic script")


def check_item(it, ctx, where):
    """Structural checks for one item (standalone or case sub-item)."""
    eid = it.get("external_id", "?")
    w = f"{where} {eid}"
    missing = ITEM_KEYS - set(it)
    extra = set(it) - ITEM_KEYS
    if missing:
        err(f"{w}: missing keys {sorted(missing)}")
    if extra:
        err(f"{w}: unknown keys {sorted(extra)}")
    t = it.get("type")
    if t not in TYPES:
        err(f"{w}: bad type {t!r}")
    if it.get("course") not in ctx["course_subject"]:
        err(f"{w}: course {it.get('course')!r} does not resolve")
    if it.get("locale") not in LOCALES:
        err(f"{w}: bad locale {it.get('locale')!r}")
    stem = it.get("stem")
    if not nonempty_str(stem) or len(stem.strip()) < MIN_STEM:
        err(f"{w}: stem missing or shorter than {MIN_STEM} chars")
    if it.get("locale") == "ar" and nonempty_str(stem) and not ARABIC_RE.search(stem):
        err(f"{w}: ar item stem has no Arabic script")
    opts = it.get("options")
    if not isinstance(opts, list):
        err(f"{w}: options must be a list")
        opts = []
    for j, o in enumerate(opts):
        if not isinstance(o, dict) or not nonempty_str(o.get("text")) \
                or not isinstance(o.get("correct"), bool) or not nonempty_str(o.get("explanation")):
            err(f"{w}: option {j} needs text, boolean correct and non-empty explanation")
    n_correct = sum(1 for o in opts if isinstance(o, dict) and o.get("correct") is True)
    texts = [norm_stem(o.get("text", "")) for o in opts if isinstance(o, dict)]
    if len(set(texts)) != len(texts):
        err(f"{w}: duplicate option texts")
    q = it.get("qroc")
    if t == "qcs":
        if not 4 <= len(opts) <= 5:
            err(f"{w}: qcs needs 4-5 options (has {len(opts)})")
        if n_correct != 1:
            err(f"{w}: qcs needs exactly 1 correct option (has {n_correct})")
        if q is not None:
            err(f"{w}: qcs must have qroc null")
    elif t == "qcm":
        if len(opts) != 5:
            err(f"{w}: qcm needs exactly 5 options (has {len(opts)})")
        if n_correct < 2:
            err(f"{w}: qcm needs >= 2 correct options (has {n_correct})")
        if q is not None:
            err(f"{w}: qcm must have qroc null")
    elif t == "qroc":
        if opts:
            err(f"{w}: qroc must have no options")
        if not isinstance(q, dict) or not nonempty_str(q.get("expected")):
            err(f"{w}: qroc needs a non-empty expected answer")
        else:
            if not isinstance(q.get("variants"), list) or not all(nonempty_str(v) for v in q["variants"]):
                err(f"{w}: qroc.variants must be a list of strings")
            if not isinstance(q.get("keywords"), list) or not q["keywords"] \
                    or not all(nonempty_str(v) for v in q["keywords"]):
                err(f"{w}: qroc.keywords must be a non-empty list of strings")
            num = q.get("numeric")
            if num is not None:
                if not isinstance(num, dict) or not isinstance(num.get("value"), (int, float)) \
                        or not isinstance(num.get("tolerance"), (int, float)) or num["tolerance"] < 0 \
                        or not nonempty_str(num.get("unit")):
                    err(f"{w}: qroc.numeric needs numeric value, tolerance >= 0 and unit")
            if set(q) - {"expected", "variants", "keywords", "numeric"}:
                err(f"{w}: unknown qroc keys")
    if not nonempty_str(it.get("explanation")):
        err(f"{w}: general explanation missing")
    refs = it.get("references")
    if not isinstance(refs, list) or not refs or not all(nonempty_str(r) for r in refs):
        err(f"{w}: references must be a non-empty list of strings")
    if it.get("difficulty") not in DIFFICULTIES:
        err(f"{w}: bad difficulty {it.get('difficulty')!r}")
    es = it.get("estimated_seconds")
    if not isinstance(es, int) or isinstance(es, bool) or not 30 <= es <= 120:
        err(f"{w}: estimated_seconds must be an integer in 30..120")
    kcs = it.get("kcs")
    if not isinstance(kcs, list) or not 1 <= len(kcs) <= 3:
        err(f"{w}: needs 1-3 KCs")
        kcs = []
    total = 0.0
    subj = ctx["course_subject"].get(it.get("course"))
    seen = set()
    for k in kcs:
        code = k.get("kc") if isinstance(k, dict) else None
        wt = k.get("weight") if isinstance(k, dict) else None
        if code not in ctx["kc_subject"]:
            err(f"{w}: KC {code!r} does not resolve")
        elif subj and ctx["kc_subject"][code] != subj:
            err(f"{w}: KC {code} belongs to another subject than course {it.get('course')}")
        if code in seen:
            err(f"{w}: KC {code} listed twice")
        seen.add(code)
        if not isinstance(wt, (int, float)) or wt <= 0:
            err(f"{w}: KC weight must be > 0")
        else:
            total += wt
    if kcs and abs(total - 1.0) > EPS:
        err(f"{w}: KC weights sum to {total}, not 1")
    src = it.get("source")
    if src is not None:
        if not isinstance(src, dict) or src.get("kind") not in SOURCE_KINDS or not nonempty_str(src.get("label")) \
                or src.get("original") is not True or set(src) - {"kind", "label", "original"}:
            err(f"{w}: source must be {{kind in {sorted(SOURCE_KINDS)}, label, original: true}}")
        elif src["kind"] == "exam_style" and not re.search(r"EMD|rattrapage", src["label"], re.I):
            err(f"{w}: exam_style source label must say EMD-style or rattrapage-style")
    return subj


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "demo_bank.json"
    try:
        bank = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"FAIL: cannot read {path}: {exc}")
        return 1

    if set(bank) != TOP_KEYS:
        err(f"top-level keys must be exactly {sorted(TOP_KEYS)} (got {sorted(bank)})")
    if bank.get("version") != 1:
        err("version must be 1")
    if bank.get("year_of_study") != 3:
        err("year_of_study must be 3")
    walk_keys(bank)

    # ---- subjects and courses
    subjects = {}
    course_subject = {}
    for s in bank.get("subjects", []):
        code = s.get("code")
        if code in subjects:
            err(f"duplicate subject {code}")
        subjects[code] = s
        check_names(s.get("name"), f"subject {code}")
        courses = s.get("courses", [])
        if not 3 <= len(courses) <= 4:
            err(f"subject {code}: needs 3-4 courses (has {len(courses)})")
        for c in courses:
            if c.get("code") in course_subject:
                err(f"duplicate course {c.get('code')}")
            course_subject[c.get("code")] = code
            check_names(c.get("name"), f"course {c.get('code')}")
    if len(subjects) != 3:
        err(f"expected 3 subjects, found {len(subjects)}")

    # ---- knowledge components
    kc_subject = {}
    all_codes = Counter()
    for d in bank.get("knowledge_components", []):
        subj = d.get("subject")
        if subj not in subjects:
            err(f"KC domain {d.get('domain', {}).get('code')}: subject {subj!r} does not resolve")
        dom = d.get("domain", {})
        all_codes[dom.get("code")] += 1
        check_names(dom.get("name"), f"domain {dom.get('code')}")
        if not d.get("topics"):
            err(f"domain {dom.get('code')}: no topics")
        for t in d.get("topics", []):
            all_codes[t.get("code")] += 1
            check_names(t.get("name"), f"topic {t.get('code')}")
            if not t.get("kcs"):
                err(f"topic {t.get('code')}: no KCs")
            for k in t.get("kcs", []):
                all_codes[k.get("code")] += 1
                check_names(k.get("name"), f"KC {k.get('code')}")
                kc_subject[k.get("code")] = subj
    for code, n in all_codes.items():
        if n > 1:
            err(f"domain/topic/KC code {code} used {n} times")
    kcs_per_subject = Counter(kc_subject.values())
    for s in subjects:
        if kcs_per_subject[s] < MIN_KCS_PER_SUBJECT:
            err(f"subject {s}: {kcs_per_subject[s]} KCs (< {MIN_KCS_PER_SUBJECT})")

    # ---- blueprint
    bp = bank.get("blueprint", {})
    if not nonempty_str(bp.get("name")):
        err("blueprint needs a name")
    bps = bp.get("subjects", [])
    if abs(sum(x.get("weight", 0) for x in bps) - 1.0) > EPS:
        err("blueprint subject weights do not sum to 1")
    if sorted(x.get("subject") for x in bps) != sorted(subjects):
        err("blueprint must weight each subject exactly once")
    for x in bps:
        s = x.get("subject")
        ks = x.get("kcs", [])
        if abs(sum(k.get("weight", 0) for k in ks) - 1.0) > EPS:
            err(f"blueprint {s}: KC weights do not sum to 1")
        codes = [k.get("kc") for k in ks]
        if len(set(codes)) != len(codes):
            err(f"blueprint {s}: duplicate KC")
        for c in codes:
            if kc_subject.get(c) != s:
                err(f"blueprint {s}: KC {c} missing or of another subject")
        if any(k.get("weight", 0) <= 0 for k in ks):
            err(f"blueprint {s}: KC weights must be > 0")

    ctx = {"course_subject": course_subject, "kc_subject": kc_subject}

    # ---- items
    items = bank.get("items", [])
    ids = Counter()
    by_id = {}
    stems = defaultdict(list)
    for it in items:
        check_item(it, ctx, "item")
        ids[it.get("external_id")] += 1
        by_id[it.get("external_id")] = it
        if nonempty_str(it.get("stem")):
            stems[norm_stem(it["stem"])].append(it.get("external_id"))

    # ---- clinical cases
    cases = bank.get("clinical_cases", [])
    for c in cases:
        cid = c.get("external_id")
        ids[cid] += 1
        if set(c) != {"external_id", "course", "locale", "title", "scenario", "objectives", "items"}:
            err(f"case {cid}: wrong key set {sorted(c)}")
        if c.get("course") not in course_subject:
            err(f"case {cid}: course does not resolve")
        if c.get("locale") not in LOCALES:
            err(f"case {cid}: bad locale")
        if not nonempty_str(c.get("title")) or not nonempty_str(c.get("scenario")) or len(c.get("scenario", "")) < 100:
            err(f"case {cid}: needs a title and a scenario (>= 100 chars)")
        obj = c.get("objectives")
        if not isinstance(obj, list) or not obj or not all(nonempty_str(o) for o in obj):
            err(f"case {cid}: needs learning objectives")
        sub = c.get("items", [])
        if not 3 <= len(sub) <= 5:
            err(f"case {cid}: needs 3-5 sub-items (has {len(sub)})")
        if len({i.get("type") for i in sub}) < 2:
            err(f"case {cid}: sub-items must mix at least 2 types")
        for n, it in enumerate(sub, 1):
            check_item(it, ctx, f"case {cid}")
            if it.get("external_id") != f"{cid}-q{n}":
                err(f"case {cid}: sub-item {n} must be named {cid}-q{n}")
            if it.get("translation_of") is not None:
                err(f"case {cid}: sub-items cannot be translations")
            if it.get("locale") != c.get("locale"):
                err(f"case {cid}: sub-item locale differs from case locale")
            ids[it.get("external_id")] += 1
            if nonempty_str(it.get("stem")):
                stems[norm_stem(it["stem"])].append(it.get("external_id"))

    for i, n in ids.items():
        if n > 1:
            err(f"duplicate external_id {i} ({n}x)")
    for s, who in stems.items():
        if len(who) > 1:
            err(f"duplicate stem shared by {who}")

    # ---- translations
    trans_seen = set()
    for it in items:
        src_id = it.get("translation_of")
        eid = it.get("external_id")
        if it.get("locale") == "fr":
            if src_id is not None:
                err(f"item {eid}: fr items cannot be translations")
            continue
        if src_id is None:
            continue
        tgt = by_id.get(src_id)
        if tgt is None:
            err(f"item {eid}: translation_of {src_id} does not exist")
            continue
        if tgt.get("locale") != "fr" or tgt.get("translation_of") is not None:
            err(f"item {eid}: translation target {src_id} is not an original fr item")
        if (src_id, it.get("locale")) in trans_seen:
            err(f"item {eid}: second {it.get('locale')} translation of {src_id}")
        trans_seen.add((src_id, it.get("locale")))
        if tgt.get("type") != it.get("type"):
            err(f"item {eid}: type differs from {src_id}")
        if tgt.get("course") != it.get("course"):
            err(f"item {eid}: course differs from {src_id}")
        to, io = tgt.get("options", []), it.get("options", [])
        if len(to) != len(io):
            err(f"item {eid}: option count differs from {src_id}")
        if [i for i, o in enumerate(to) if o.get("correct")] != [i for i, o in enumerate(io) if o.get("correct")]:
            err(f"item {eid}: correct indexes differ from {src_id}")
        if it.get("type") == "qroc":
            tn = (tgt.get("qroc") or {}).get("numeric")
            inn = (it.get("qroc") or {}).get("numeric")
            if (tn is None) != (inn is None) or (tn and (tn.get("value") != inn.get("value")
                                                          or tn.get("tolerance") != inn.get("tolerance"))):
                err(f"item {eid}: numeric key differs from {src_id}")
        if sorted((k["kc"], k["weight"]) for k in tgt.get("kcs", [])) != \
                sorted((k["kc"], k["weight"]) for k in it.get("kcs", [])):
            err(f"item {eid}: KC tags differ from {src_id}")

    # ---- accounts
    accounts = bank.get("accounts", [])
    roles = Counter(a.get("role") for a in accounts)
    if set(roles) != ROLES or any(n != 1 for n in roles.values()):
        err(f"accounts: need exactly one per role {sorted(ROLES)} (got {dict(roles)})")
    emails = [a.get("email") for a in accounts]
    if len(set(emails)) != len(emails):
        err("accounts: duplicate email")
    for a in accounts:
        if set(a) != {"role", "email", "display_name", "admin_scopes", "locale"}:
            err(f"account {a.get('email')}: wrong key set {sorted(a)}")
        if not re.fullmatch(r"[a-z0-9._-]+@demo\.myqcm\.local", a.get("email", "")):
            err(f"account {a.get('email')}: email must be on demo.myqcm.local")
        if a.get("locale") not in LOCALES or not nonempty_str(a.get("display_name")):
            err(f"account {a.get('email')}: bad locale or display_name")
        want = ["super"] if a.get("role") == "admin" else []
        if a.get("admin_scopes") != want:
            err(f"account {a.get('email')}: admin_scopes must be {want}")

    # ---- counts
    fr_std = [i for i in items if i.get("locale") == "fr"]
    loc = Counter(i.get("locale") for i in items)
    untranslated_foreign = [i.get("external_id") for i in items
                            if i.get("locale") != "fr" and i.get("translation_of") is None]
    if untranslated_foreign:
        err(f"non-fr items must be translations: {untranslated_foreign}")
    if len(fr_std) < MIN_FR_STANDALONE:
        err(f"only {len(fr_std)} standalone fr items (< {MIN_FR_STANDALONE})")
    if len(cases) < MIN_CASES:
        err(f"only {len(cases)} clinical cases (< {MIN_CASES})")
    if loc["en"] < MIN_EN:
        err(f"only {loc['en']} en items (< {MIN_EN})")
    if loc["ar"] < MIN_AR:
        err(f"only {loc['ar']} ar items (< {MIN_AR})")
    by_type = Counter(i.get("type") for i in fr_std)
    all_types = by_type + Counter(s.get("type") for c in cases for s in c.get("items", []))
    for t in TYPES:
        if all_types[t] == 0:
            err(f"no item of type {t}")
    for t, target in TARGET_MIX.items():
        share = by_type[t] / max(1, len(fr_std))
        if abs(share - target) > MIX_TOLERANCE:
            err(f"type mix: {t} is {share:.0%}, target {target:.0%} +/- {MIX_TOLERANCE:.0%}")
    subj_count = Counter(course_subject.get(i.get("course")) for i in fr_std)
    course_count = Counter(i.get("course") for i in fr_std)
    for s, subj in subjects.items():
        if subj_count[s] < MIN_PER_SUBJECT:
            err(f"subject {s}: {subj_count[s]} fr items (< {MIN_PER_SUBJECT})")
        for c in subj.get("courses", []):
            if course_count[c["code"]] < 5:
                err(f"course {c['code']}: only {course_count[c['code']]} fr items (< 5)")
    diff = Counter(i.get("difficulty") for i in fr_std)
    for d in DIFFICULTIES:
        if diff[d] == 0:
            err(f"no {d} item")
    numeric = sum(1 for i in items + [s for c in cases for s in c.get("items", [])]
                  if i.get("type") == "qroc" and (i.get("qroc") or {}).get("numeric"))
    if numeric < 2:
        err("need at least 2 numeric qroc items")
    used_kcs = {k["kc"] for i in fr_std for k in i.get("kcs", []) if isinstance(k, dict)}
    unused = sorted(set(kc_subject) - used_kcs)
    if unused:
        err(f"KCs with no fr item: {unused}")

    # ---- report
    print(f"file: {path}")
    print(f"standalone items: {len(items)}  (fr {loc['fr']}, en {loc['en']}, ar {loc['ar']})")
    print("fr standalone by subject/type:")
    for s in subjects:
        c = Counter(i.get("type") for i in fr_std if course_subject.get(i.get("course")) == s)
        courses = ", ".join(f"{cc['code']}={course_count[cc['code']]}" for cc in subjects[s]["courses"])
        print(f"  {s:7s} {subj_count[s]:3d}  qcm {c['qcm']:2d}  qcs {c['qcs']:2d}  qroc {c['qroc']:2d}  [{courses}]")
    print("fr type mix: " + ", ".join(f"{t} {by_type[t]} ({by_type[t] / max(1, len(fr_std)):.0%})"
                                      for t in ("qcm", "qcs", "qroc")))
    print(f"difficulty (fr): " + ", ".join(f"{d} {diff[d]}" for d in ("easy", "medium", "hard")))
    print(f"numeric qroc: {numeric}")
    src = Counter((i.get("source") or {}).get("kind", "none") for i in fr_std)
    print("sources (fr): " + ", ".join(f"{k} {v}" for k, v in sorted(src.items())))
    print(f"clinical cases: {len(cases)} ({sum(len(c.get('items', [])) for c in cases)} sub-items)")
    print(f"KCs per subject: {dict(kcs_per_subject)}")
    print(f"accounts: {dict(roles)}")
    if errors:
        print(f"\nFAIL: {len(errors)} error(s)")
        for e in errors:
            print("  - " + e)
        return 1
    print("\nOK: all rules pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
