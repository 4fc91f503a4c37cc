"""cvm.report"""
