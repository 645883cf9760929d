"""Process models: the documented SOPs and what conformance replays them as.

- ``engine.model.bpmn``: secure reading of BPMN 2.0 XML (lanes as owners,
  documentation) and its conversion to a Petri net;
- ``engine.model.workflow_net``: that Petri net, made by cxmine the way
  pm4py's converter makes it (proved equal in tests) without importing pm4py,
  and ``to_pm4py`` for pm4py's own algorithms;
- ``engine.model.sop``: an SOP = a BPMN model plus its sidecar (label map,
  cost per minute per owner, compliance-critical steps), ``load_sop``;
- ``engine.model.petri_net``: the Petri net compiled into the named arrays
  (``NetArrays``) the replay kernel reads, ``compile_net``.

Every analysis that needs an SOP takes it from here.
"""

from engine.model.petri_net import CompiledNet, NetArrays, compile_net
from engine.model.sop import Sop, Task, load_sop, load_sop_library

__all__ = ["CompiledNet", "NetArrays", "Sop", "Task", "compile_net", "load_sop", "load_sop_library"]
