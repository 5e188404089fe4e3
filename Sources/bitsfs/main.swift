print("bitsfs")
