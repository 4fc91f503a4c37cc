"""cvm.profiles"""
