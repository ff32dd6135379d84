#!/usr/bin/env python3
"""Assemble demo_bank.json from the hand-written parts in ./parts/.

Mechanical only (no content is generated here):
  * parts/00_meta.json provides subjects, knowledge_components, blueprint,
    accounts and a `reference_catalog` (short key -> full citation);
  * every other parts/*.json file holds {"items": [...]} and/or
    {"clinical_cases": [...]}, concatenated in file-name order;
  * references written as "@key" are expanded from the catalog
    (unknown keys abort the merge); plain strings are kept verbatim;
  * omitted defaults are filled: locale "fr", translation_of null,
    qroc null (qcs/qcm), options [] (qroc), source null;
  * keys are emitted in the documented order.
Usage: python3 merge.py  (writes demo_bank.json next to this script)
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = HERE / "parts"
OUT = HERE / "demo_bank.json"

ITEM_KEYS = ["external_id", "type", "course", "locale", "translation_of", "stem",
             "options", "qroc", "explanation", "references", "difficulty",
             "estimated_seconds", "kcs", "source"]
CASE_KEYS = ["external_id", "course", "locale", "title", "scenario", "objectives", "items"]


def die(msg):
    print(f"merge.py: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        die(f"{path.name}: invalid JSON: {exc}")


def normalize_item(item, catalog, where):
    item = dict(item)
    item.setdefault("locale", "fr")
    item.setdefault("translation_of", None)
    if item.get("type") == "qroc":
        item.setdefault("options", [])
    else:
        item.setdefault("qroc", None)
    item.setdefault("source", None)
    refs = []
    for ref in item.get("references", []):
        if isinstance(ref, str) and ref.startswith("@"):
            key = ref[1:]
            if key not in catalog:
                die(f"{where} {item.get('external_id')}: unknown reference key {ref}")
            refs.append(catalog[key])
        else:
            refs.append(ref)
    item["references"] = refs
    unknown = set(item) - set(ITEM_KEYS)
    if unknown:
        die(f"{where} {item.get('external_id')}: unknown keys {sorted(unknown)}")
    return {k: item[k] for k in ITEM_KEYS if k in item}


def main():
    meta = load(PARTS / "00_meta.json")
    catalog = meta.pop("reference_catalog", {})
    items, cases = [], []
    for path in sorted(PARTS.glob("*.json")):
        if path.name == "00_meta.json":
            continue
        part = load(path)
        for item in part.get("items", []):
            items.append(normalize_item(item, catalog, path.name))
        for case in part.get("clinical_cases", []):
            case = dict(case)
            case.setdefault("locale", "fr")
            case["items"] = [normalize_item(i, catalog, path.name) for i in case.get("items", [])]
            cases.append({k: case[k] for k in CASE_KEYS if k in case})
    bank = {
        "version": meta["version"],
        "year_of_study": meta["year_of_study"],
        "subjects": meta["subjects"],
        "knowledge_components": meta["knowledge_components"],
        "blueprint": meta["blueprint"],
        "items": items,
        "clinical_cases": cases,
        "accounts": meta["accounts"],
    }
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(bank, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    print(f"wrote {OUT.name}: {len(items)} items, {len(cases)} clinical cases")


if __name__ == "__main__":
    main()
