"""cvm.decide"""
