"""Places for routing tests, as (lat, lon): in and around the fictional demo province."""

# Places in the demo province, as (lat, lon).
IN_XA_01 = (22.56, 106.05)
FOREST = (22.70, 106.42)  # inside the boundary, ~12 km east of the nearest commune
NORTH_FOREST = (22.85, 106.20)
EAST_OF_XA_08 = (22.65, 106.31)  # ~1 km east of the commune grid
HANOI = (21.0285, 105.8542)
