"""The end-to-end benchmark's parts (``make bench`` runs ``scripts/bench_e2e.py``).

world     builds a network of N members in a fresh database, in process
bulk      writes members the way MemberRepository.create does, in batches
rig       the local Signal sandbox, the bot (``lantern run``) and the echo bot as child
          processes, and the timings taken at the sandbox
cryptocost  what envelope encryption costs per command, in process
report    the table (terminal, Markdown) and the JSON file
"""
