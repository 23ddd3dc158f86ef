"""The RAM explorer behind `gb-gym ram` (docs/ram-explorer.md): record play (`play`, `recording`),
find candidate addresses by how they move (`series`, `find`, `report`), check a spec against a
recording (`check`), and write a `GameSpec` skeleton from the findings (`skeleton`)."""
