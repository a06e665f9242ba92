"""`python -m pand_core.report.redraw [study.json]`: the findings box and the study figure redrawn beside a study's
summary from its numbers alone (`findings.write_findings`; no run is repeated), and the two-stage picture."""

import sys

from .diagram import write_diagram
from .findings import STUDY_JSON, write_findings

if __name__ == "__main__":
    for path in (*write_findings(sys.argv[1] if len(sys.argv) > 1 else STUDY_JSON), write_diagram()):
        print("wrote", path)
