import BitsEngine
