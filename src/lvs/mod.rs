//! The LVS side: desired table from config + checker states, reconciled with the kernel.
